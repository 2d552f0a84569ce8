"""Voice benchmark: how many real-time calls one core carries, and what a caller waits under load.

    .venv/bin/python -m bench.voice [--calls 5,10,20,30] [--rate 8000] [--skip-load | --skip-rtf] [--through-nginx]

1. Calls per core (in-process, one thread): the real-time factor of recognising every recording of
   ../shared/eval/spoken and ../shared/eval/asr at --rate
     - plain vosk: a fresh recogniser per utterance, every sample decoded (what vosk-server does);
     - Frontdoor: pooled recognisers, silence skipped, knowledge-base bias and n-best;
     - Frontdoor on a call-shaped stream: each question after 6 s of the caller listening to a prompt.
   calls per core = 1 / real-time factor.
2. Load run: `frontdoor serve` (one worker, recognition on a pool of threads sized to the cores) on a fresh
   data folder with the covid-faq and gov-policy packs as its knowledge; N simulated callers at once over the
   IVR WebSocket, each streaming in real time (20 ms frames): 2 s of silence, a recorded question, 2 s of
   silence; calls arrive spread over a call's length and each caller is followed by the next. Latency is
   measured from the end of the question's audio to the `decision` message; the endpoint (700 ms of silence
   that tells the caller has finished) is part of it. A call the worker turns away (1013, busy) counts as
   refused. With --through-nginx, two workers on one database behind Debian's nginx running the shipped
   deploy/nginx.conf.template (bench/balancer.py), as deployed.
Prints tables and a final JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from voice.audio import read_wav, to_rate
from bench.chat import _free_port as free_port, percentile, start_service

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
PACKS = ("covid-faq", "gov-policy")
BUSY = 1013  # the close code of a call the worker turns away


def recordings(rate: int) -> list[bytes]:
    files = [p for pack in PACKS for p in sorted((SHARED / "spoken" / pack / f"wav{rate // 1000}k").glob("*.wav"))]
    files += [p for d in sorted((SHARED / "asr").iterdir()) for p in sorted(d.glob("*.wav"))]
    return [to_rate(read_wav(p), rate) for p in files]


def knowledge_texts() -> list[str]:
    from voice.services import entry_texts
    from knowledge_base.io import read_entries

    return entry_texts([e for pack in PACKS for e in read_entries(SHARED / "retrieval" / f"{pack}.kb.jsonl")])


def real_time_factors(rate: int) -> dict:
    import vosk

    from voice.listener import Listener
    from assistant.rules import load_rules
    from frontdoor.components import listening, load_speech
    from frontdoor.settings import Settings
    from voice.vocabulary import Segmenter, VocabularyBias

    settings = Settings()
    recogniser = load_speech(settings)
    bias = VocabularyBias.from_texts(knowledge_texts(), Segmenter(), terms=load_rules().terms)
    audio = recordings(rate)
    seconds = sum(len(pcm) / 2 / rate for pcm in audio)
    step = rate // 50 * 2

    started = time.perf_counter()
    for pcm in audio:
        plain = vosk.KaldiRecognizer(recogniser.model, float(rate))
        for start in range(0, len(pcm), step * 10):
            plain.AcceptWaveform(pcm[start:start + step * 10])
        plain.FinalResult()
    plain_rtf = (time.perf_counter() - started) / seconds

    def frontdoor(prefix_seconds: float) -> tuple[float, float]:
        total = 0.0
        started = time.perf_counter()
        for pcm in audio:
            stream = bytes(int(prefix_seconds * rate) * 2) + pcm + bytes(rate * 2)
            total += len(stream) / 2 / rate
            listener = Listener(recogniser, rate, bias, listening(settings))
            for start in range(0, len(stream), step):
                listener.feed(stream[start:start + step])
            listener.flush()
            listener.close()
        return (time.perf_counter() - started) / total, total

    speech_rtf, _ = frontdoor(0.0)
    call_rtf, call_seconds = frontdoor(6.0)
    return {"utterances": len(audio), "audio_seconds": round(seconds, 1), "rate": rate,
            "plain_rtf": round(plain_rtf, 4), "frontdoor_rtf": round(speech_rtf, 4), "call_rtf": round(call_rtf, 4),
            "plain_calls_per_core": round(1 / plain_rtf, 1), "frontdoor_calls_per_core": round(1 / speech_rtf, 1),
            "call_calls_per_core": round(1 / call_rtf, 1), "speedup": round(plain_rtf / speech_rtf, 2)}


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def recogniser_memory(rate: int, count: int = 10) -> dict:
    """Resident memory of the loaded model, and of each warm recogniser (one per concurrent call)."""
    from frontdoor.components import load_speech
    from frontdoor.settings import Settings

    before = resident_mb()
    recogniser = load_speech(Settings())
    loaded = resident_mb()
    pcm = recordings(rate)[0]
    streams = [recogniser.stream(rate) for _ in range(count)]
    for stream in streams:
        stream.accept(pcm)
        stream.finish()
    warm = resident_mb()
    for stream in streams:
        stream.close()
    return {"model_mb": round(loaded - before), "per_call_mb": round((warm - loaded) / count, 1)}


async def one_call(url: str, pcm: bytes, rate: int) -> dict:
    """One caller: the decision's kind and how long after the end of the question it came; `refused` when the
    worker turned the call away (1013, busy)."""
    import websockets

    try:
        return await _call(url, pcm, rate)
    except websockets.ConnectionClosed as closed:
        refused = closed.rcvd is not None and closed.rcvd.code == BUSY
        return {"kind": None, "latency": None, "refused": refused}


async def _call(url: str, pcm: bytes, rate: int) -> dict:
    import websockets

    frame = rate // 50 * 2
    silence = bytes(frame)
    decided: dict = {}
    async with websockets.connect(url, max_size=2**22, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "start", "sample_rate": rate}))
        speech_end: list[float] = []

        async def read() -> None:
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "prompt" and event.get("purpose") == "greeting":
                    await ws.send(json.dumps({"type": "played"}))
                if event.get("type") == "decision" and "at" not in decided:
                    decided.update(kind=event["kind"], at=time.perf_counter())
                    return

        reader = asyncio.create_task(read())
        stream = [silence] * 100 + [pcm[i:i + frame] for i in range(0, len(pcm), frame)] + [silence] * 100
        speech_last = 100 + (len(pcm) + frame - 1) // frame - 1
        begin = time.perf_counter()
        for n, chunk in enumerate(stream):  # real time: frame n leaves at begin + n × 20 ms
            delay = begin + n * 0.02 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if reader.done():
                break
            await ws.send(chunk)
            if n == speech_last:
                speech_end.append(time.perf_counter())
        try:
            await asyncio.wait_for(reader, timeout=30)
        except asyncio.TimeoutError:
            reader.cancel()
        await ws.close()
    if "at" not in decided or not speech_end:
        return {"kind": None, "latency": None}
    return {"kind": decided["kind"], "latency": decided["at"] - speech_end[0]}


async def load_run(base: str, audio: list[bytes], calls: int, rate: int, rounds: int) -> dict:
    """`calls` callers on the line at once: each caller, when their call ends, is followed by the next one;
    the first calls start spread over one call's length, as calls arrive on a real line (not all at once)."""
    url = base.replace("http://", "ws://") + "/v1/ivr"
    results = []
    call_seconds = statistics.mean(len(pcm) / 2 / rate for pcm in audio) + 4.0

    async def caller(number: int) -> None:
        await asyncio.sleep(call_seconds * number / calls)
        for round_number in range(rounds):
            result = await one_call(url, audio[(round_number * calls + number) % len(audio)], rate)
            results.append({**result, "round": round_number})

    await asyncio.gather(*(caller(n) for n in range(calls)))

    def figures(rows: list[dict]) -> dict:
        latencies = [r["latency"] for r in rows if r["latency"] is not None]
        return {"completed": len(latencies), "of": len(rows), "refused": sum(bool(r.get("refused")) for r in rows),
                "p50_ms": round(statistics.median(latencies) * 1000) if latencies else None,
                "p95_ms": round(percentile(latencies, 95) * 1000) if latencies else None}

    # The first round's calls find no warm recogniser in the pool (a fresh one decodes 3x slower).
    return {"calls": calls, "warm": figures([r for r in results if r["round"] > 0]),
            "first_round": figures([r for r in results if r["round"] == 0])}


async def load_step(base: str, audio: list[bytes], calls: int, rate: int, rounds: int) -> dict:
    """A load run, with the machine's load average (1 min) before and after it: the machine may be shared."""
    before = os.getloadavg()[0]
    step = await load_run(base, audio, calls, rate, rounds)
    return {**step, "load_average": [round(before, 2), round(os.getloadavg()[0], 2)]}


def import_knowledge(env: dict) -> None:
    for pack in PACKS:
        subprocess.run([sys.executable, "-m", "frontdoor", "kb", "import", str(SHARED / "retrieval" / f"{pack}.kb.jsonl")],
                       env=env, check=True, capture_output=True)


@contextlib.contextmanager
def serving(scratch: Path, through_nginx: bool) -> Iterator[str]:
    """The service the callers dial, on a fresh database holding the packs' knowledge: one `frontdoor serve`
    worker, or (through nginx) two on one database behind the shipped balancer configuration. Yields its base URL."""
    workers = 2 if through_nginx else 1
    database = f"sqlite:///{scratch / 'frontdoor.db'}"
    env = {**os.environ, "FRONTDOOR_DATA_DIR": str(scratch), "FRONTDOOR_SEED_ON_START": "false",
           "FRONTDOOR_DATABASE_URL": database}
    env.setdefault("FRONTDOOR_MODEL_DIR", str(Path("var/models").resolve()))
    env.pop("DATABASE_URL", None)
    import_knowledge(env)
    processes = []
    try:
        bases = []
        for n in range(workers):  # one after the other: the second finds the database migrated
            data_dir = scratch / f"worker-{n}"
            data_dir.mkdir()
            process, base = start_service(data_dir, 1, {"FRONTDOOR_SEED_ON_START": "false", "FRONTDOOR_DATABASE_URL": database})
            processes.append(process)
            bases.append(base)
        if not through_nginx:
            yield bases[0]
            return
        from bench.balancer import start_nginx, stop_nginx

        run_dir = scratch / "nginx"
        run_dir.mkdir()
        listen = free_port()
        nginx = start_nginx(run_dir, listen, [int(base.rsplit(":", 1)[1]) for base in bases])
        try:
            yield f"http://127.0.0.1:{listen}"
        finally:
            stop_nginx(nginx)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="5,10,20,30", help="concurrent calls per load step")
    parser.add_argument("--rounds", type=int, default=4, help="calls per caller in each step (the first finds the pool cold)")
    parser.add_argument("--rate", type=int, default=8000, choices=(8000, 16000))
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-rtf", action="store_true", help="only the load run")
    parser.add_argument("--through-nginx", action="store_true",
                        help="the load run through Debian's nginx (deploy/nginx.conf.template) in front of 2 workers")
    args = parser.parse_args()
    # A benchmark stopped with SIGTERM (timeout, kill) still stops the workers and nginx it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    figures: dict = {"cores": os.cpu_count()}
    if not args.skip_rtf:
        figures.update(memory=recogniser_memory(args.rate), rtf=real_time_factors(args.rate))
        rtf = figures["rtf"]
        print(f"{'path':<42}{'real-time factor':>18}{'calls/core':>12}")
        for name, key in (("plain vosk (fresh recogniser, every sample)", "plain"),
                          ("Frontdoor (pool, VAD, bias, n-best)", "frontdoor"),
                          ("Frontdoor, call-shaped (6 s prompt first)", "call")):
            print(f"{name:<42}{rtf[key + '_rtf']:>18.3f}{rtf[key + '_calls_per_core']:>12.1f}")
        print(f"memory: model {figures['memory']['model_mb']} MB, each concurrent call {figures['memory']['per_call_mb']} MB")

    if not args.skip_load:
        audio = [to_rate(read_wav(p), args.rate) for pack in PACKS
                 for p in sorted((SHARED / "spoken" / pack / f"wav{args.rate // 1000}k").glob("*.wav"))]
        with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as scratch, \
                serving(Path(scratch), args.through_nginx) as base:
            steps = [asyncio.run(load_step(base, audio, int(n), args.rate, args.rounds)) for n in args.calls.split(",")]
        figures["load"] = steps
        figures["through"] = "nginx, 2 workers" if args.through_nginx else "direct, 1 worker"
        print(f"\nend of speech → decision (incl. the 700 ms endpoint), ms; {figures['through']}")
        print(f"{'concurrent calls':>16}{'warm p50':>10}{'warm p95':>10}{'done':>8}{'refused':>9}   "
              f"{'first round p50':>16}{'p95':>8}{'refused':>9}   load average")
        for step in steps:
            warm, first = step["warm"], step["first_round"]
            print(f"{step['calls']:>16}{warm['p50_ms']!s:>10}{warm['p95_ms']!s:>10}{warm['completed']:>4}/{warm['of']:<3}"
                  f"{warm['refused']:>9}   {first['p50_ms']!s:>16}{first['p95_ms']!s:>8}{first['refused']:>9}   "
                  f"{step['load_average'][0]} → {step['load_average'][1]}")
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
