"""Chat-turn benchmark: HTTP + engine + database write, end to end, against a real running service.

    .venv/bin/python -m bench.chat [--turns 300] [--clients 50] [--workers 1]

Starts `frontdoor serve` on a fresh data folder (seed knowledge), then
  1. one client, turns one after another: p50 / p95 / p99 latency per turn;
  2. `--clients` concurrent clients: turns per second and the latency they see.
Questions are the seed knowledge's own sample questions (shuffled, none asked twice, so the query
cache never answers; --turns is at most about 500), each turn a new conversation,
so every turn retrieves, decides and writes its conversation and turn rows (handoffs also a ticket).
Prints a table and a final JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from knowledge_base.seed import read_seed_entries

REGION = "江苏省/南京市"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(data_dir: Path, workers: int, extra_env: dict | None = None,
                  timeout: float = 600) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    # The load comes from one address, as no city's citizens do: the per-address limit would refuse it.
    env = {**os.environ, "FRONTDOOR_DATA_DIR": str(data_dir), "FRONTDOOR_ALLOW_DOWNLOAD": "false",
           "FRONTDOOR_MESSAGES_PER_ADDRESS_MINUTE": "1000000", **(extra_env or {})}
    env.setdefault("FRONTDOOR_MODEL_DIR", str(Path("var/models").resolve()))
    env.pop("DATABASE_URL", None)
    log = open(data_dir / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "frontdoor", "serve", "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited: {(data_dir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the service did not start within {timeout:.0f} s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def one_client(base: str, questions: list[str]) -> tuple[list[float], dict[str, int]]:
    latencies, kinds = [], {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for question in questions:
            started = time.perf_counter()
            reply = client.post("/v1/chat", json={"text": question, "region": REGION})
            latencies.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            kind = reply.json()["decision"]
            kinds[kind] = kinds.get(kind, 0) + 1
    return latencies, kinds


async def many_clients(base: str, questions: list[str], clients: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for q in questions:
        queue.put_nowait(q)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker() -> None:
            while not queue.empty():
                question = queue.get_nowait()
                started = time.perf_counter()
                reply = await client.post("/v1/chat", json={"text": question, "region": REGION})
                latencies.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(questions) / elapsed, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300, help="turns per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    args = parser.parse_args()

    questions = list(dict.fromkeys(s for e in read_seed_entries() for s in e.samples))
    random.Random(0).shuffle(questions)
    if len(questions) < 20 + 2 * args.turns:
        raise SystemExit(f"--turns {args.turns} needs {20 + 2 * args.turns} distinct questions; the seed has {len(questions)}")
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as scratch:
        process, base = start_service(Path(scratch), args.workers)
        try:
            # Each phase asks questions no earlier phase asked, so no answer comes from the query cache.
            warm, first, second = questions[:20], questions[20 : 20 + args.turns], questions[20 + args.turns : 20 + 2 * args.turns]
            one_client(base, warm)
            latencies, kinds = one_client(base, first)
            throughput, concurrent = asyncio.run(many_clients(base, second, args.clients))
        finally:
            process.terminate()
            process.wait(timeout=60)
    figures = {
        "turns": args.turns, "workers": args.workers,
        "one_client_p50_ms": round(statistics.median(latencies), 1),
        "one_client_p95_ms": round(percentile(latencies, 95), 1),
        "one_client_p99_ms": round(percentile(latencies, 99), 1),
        "clients": args.clients, "turns_per_s": round(throughput, 1),
        "concurrent_p50_ms": round(statistics.median(concurrent), 1),
        "concurrent_p95_ms": round(percentile(concurrent, 95), 1),
        "decisions": kinds,
    }
    print("| measure | value |\n|---|---|")
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
