"""Surge load: citizens' chat sessions arriving open-loop through nginx, on PostgreSQL (issue 16).

    source /tmp/pg.env   # exports FRONTDOOR_TEST_POSTGRES_URL; without it (or --database-url): SQLite, said so
    .venv/bin/python -m bench.surge [--rate 33] [--minutes 10] [--workers 2] [--open-loop] [--publish-every S]
    .venv/bin/python -m bench.surge --rate 5 10 20 33 --minutes 1        # rates one after the other, a column each
                                    [--profile-seconds 30 --profile-out /tmp/surge.speedscope.json]

Starts `--workers` `frontdoor serve --port P` processes (one uvicorn worker each, FRONTDOOR_VOICE=false) on a
fresh PostgreSQL schema (dropped at the end) and Debian's nginx in front of them with the shipped
deploy/nginx.conf.template (bench/balancer.py), all on 127.0.0.1. Then new sessions arrive as a Poisson
process at `--rate` a second for `--minutes`: open-loop, so a slow service does not slow the arrivals and the
queueing shows in the latency (a closed loop of N clients would hide it). Each session is a script
(`ScriptWriter`) made from the shipped seed knowledge base: an entry chosen by a Zipf law over the entries
Nanjing sees, asked by its question or one of its samples, often lightly edited (a 请问 prefix, a particle
dropped, a homophone typo); then follow-ups — a clarification answered by number when the engine offered a
choice, "不是这个", a second question, "转人工", thanks — and some sessions are a 诉求 ("我要投诉…") or begin
with a greeting (bench/surge_scripts.yaml). Between turns a citizen reads and types for `--think` seconds.

Latency is from the moment a turn was due (the session's arrival, or the last reply plus the think time) to
its reply, so a late generator counts against the service, never for it; the generator's own lateness is
shown beside it. Counted: sessions, turns, turns/s achieved against offered, p50/p95/p99, errors by status,
the engine's decisions, and handoffs decided (the tickets their replies name) against the tickets in the
database afterwards: the two must be equal ("nothing lost"). With `--publish-every S`, an editor and a
reviewer change a popular entry's chat answer every S seconds through the API (create, save, submit,
publish) while the load runs; their failed requests are counted too. Everything (workers, nginx, PostgreSQL,
this generator) shares this machine's cores: the table says how many, with the load average.

Faults under the load (one rate; `--fault-at S` seconds into it):
    .venv/bin/python -m bench.surge --rate 5 --minutes 1.5 --fault kill-worker --fault-at 30
    .venv/bin/python -m bench.surge --rate 5 --minutes 1.5 --fault restart-db --fault-at 30 --fault-for 10
`kill-worker` SIGKILLs the first worker and leaves it dead: nginx has to route around it. `restart-db` stops
PostgreSQL with `.ci/start-postgres pause DIR` (a fast shutdown) and starts it with `resume DIR` D seconds
later; DIR is `--postgres-dir` (with its URL in --database-url or $FRONTDOOR_TEST_POSTGRES_URL), or by default
a cluster the bench starts for itself and removes, so that the shared test database others are using is
never stopped. Every request is counted in the phase its answer came in (before / after the kill; before /
down / after the restart, "down" from the stop command until PostgreSQL is ready again), with its status and
the error shape's code ("503 database_unavailable"; "-" for a body not in that shape, such as nginx's own
502 page); then how long after the fault (the kill, PostgreSQL ready again) the first success came and the
last failure, the requests in flight when it struck, and the sessions answered before it that spoke again
after it and were answered every time. A session whose turn fails gives up there (a citizen who got an
error), so a 503 answered to "转人工" while the database was down is a failed request, not a lost ticket:
no reply named a ticket and the transaction was rolled back. Nothing lost means, as without a fault, that
the tickets the load opened are exactly those its replies named (none named and missing, none written that no
reply named); and nothing half-written, that every conversation's turn count matches its turn rows.

Bounded: at most MAX_SESSIONS sessions and MAX_MINUTES of arrivals, sessions still open DRAIN_SECONDS after
the last arrival are cut off (counted), and only a loopback address is ever sent a request.
Prints tables and a final JSON line. `run_surge(base, rate, seconds, seed)` is the core, shared with
tests/test_deployment.py.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

from bench.chat import percentile, start_service
from knowledge_base.entry import Entry
from knowledge_base.seed import read_seed_entries

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).with_name("surge_scripts.yaml")
START_POSTGRES = ROOT / ".ci" / "start-postgres"
REGION = "江苏省/南京市"
MAX_SESSIONS = 50_000
MAX_MINUTES = 20
DRAIN_SECONDS = 60
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# ---- the citizens' scripts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One thing a citizen will say; a `choose` step is said only when the last reply offered choices."""

    text: str = ""
    choose: int | None = None  # the choice (0-based) to pick by number


@dataclass(frozen=True)
class Script:
    steps: tuple[Step, ...]
    think_seed: int  # the session's own think times


def nanjing_entries() -> list[Entry]:
    """The seed entries a citizen of Nanjing is answered from (province-wide and Nanjing's own)."""
    return [e for e in read_seed_entries() if e.region in ("江苏省", REGION)]


class ScriptWriter:
    """Sessions shaped like a surge: a few common questions asked very often (Zipf), in many phrasings."""

    def __init__(self, seed: int, entries: list[Entry] | None = None, zipf_s: float = 1.0) -> None:
        self.words = yaml.safe_load(SCRIPTS.read_text(encoding="utf-8"))
        self.rng = random.Random(seed)
        self.entries = list(entries or nanjing_entries())
        self.rng.shuffle(self.entries)  # popularity by rank in this order, not by the seed files' order
        self.weights = [1 / (rank ** zipf_s) for rank in range(1, len(self.entries) + 1)]

    def popular(self, n: int) -> list[Entry]:
        return self.entries[:n]

    def script(self) -> Script:
        steps: list[Step] = []
        if self.rng.random() < 0.25:
            steps.append(Step(self.rng.choice(self.words["greetings"])))
        if self.rng.random() < 0.12:
            steps += self._intake()
        else:
            steps += self._question()
        if self.rng.random() < 0.3:
            steps.append(Step(self.rng.choice(self.words["followups"]["thanks"])))
        return Script(tuple(steps), self.rng.randrange(2**31))

    def _question(self) -> list[Step]:
        entry = self.rng.choices(self.entries, self.weights)[0]
        steps = [Step(self.phrasing(entry)), self._choose()]
        branch = self.rng.random()
        if branch < 0.15:  # not what was meant: said so, then asked again in other words
            steps += [Step(self.rng.choice(self.words["followups"]["reject"])), self._choose(), Step(self.phrasing(entry))]
        elif branch < 0.25:
            steps.append(Step(self.rng.choice(self.words["followups"]["human"])))
        elif branch < 0.55:  # a second matter in the same session
            steps += [Step(self.phrasing(self.rng.choices(self.entries, self.weights)[0])), self._choose()]
        return steps

    def _intake(self) -> list[Step]:
        intake = self.words["intake"]
        said = (self.rng.choice(intake["openers"])
                + self.rng.choice(intake["matters"]).format(place=self.rng.choice(intake["places"]))
                + self.rng.choice(intake["tails"]))
        steps = [Step(said)]
        if self.rng.random() < 0.5:
            steps.append(Step(self.rng.choice(self.words["followups"]["human"])))
        return steps

    def _choose(self) -> Step:
        return Step(choose=min(int(self.rng.expovariate(1.5)), 2))  # mostly the first choice

    def phrasing(self, entry: Entry) -> str:
        text = self.rng.choice((entry.question, *entry.samples))
        if self.rng.random() < 0.5:
            text = self.paraphrase(text)
        return text

    def paraphrase(self, text: str) -> str:
        """A light edit: a polite prefix, a particle dropped, or a character typed as its homophone."""
        words = self.words["paraphrase"]
        edit = self.rng.randrange(3)
        if edit == 0:
            return self.rng.choice(words["prefixes"]) + text
        if edit == 1:
            present = [p for p in words["particles"] if p in text]
            return text.replace(self.rng.choice(present), "", 1) if present else text
        typos = [c for c in text if c in words["homophones"]]
        if not typos:
            return text
        typed = self.rng.choice(typos)
        return text.replace(typed, words["homophones"][typed], 1)

    def choice_words(self, number: int) -> list[str]:
        return self.words["followups"]["choice"][number]


# ---- the load -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """One request of one session: when it was sent and answered (seconds into the load) and how."""

    session: int
    sent_s: float
    ended_s: float
    latency_ms: float  # from when the turn was due, as everywhere in this bench
    status: str        # "200", "503", or the client's exception when no answer came ("ReadTimeout")
    code: str = ""     # the error shape's code ("database_unavailable"); "" for a 200, "-" for a body not in it

    @property
    def ok(self) -> bool:
        return self.status == "200"

    @property
    def failure(self) -> str:
        return self.status if not self.code else f"{self.status} {self.code}"


@dataclass
class SurgeResult:
    rate: float
    seconds: float
    offered_sessions: int = 0
    sessions: int = 0          # started
    finished: int = 0          # every turn of its script answered
    cut_off: int = 0           # still open when the drain time ran out
    turns: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    lags_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)       # status code or exception name → count
    decisions: Counter = field(default_factory=Counter)
    handoffs: int = 0
    tickets: set[str] = field(default_factory=set)          # the numbers the handoff replies gave
    elapsed_s: float = 0.0     # first arrival to last reply
    publishes: int = 0
    publish_failures: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)  # every request, for the phases around a fault
    fault_marks: dict[str, float] = field(default_factory=dict)  # what the fault did when (s into the load)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.elapsed_s if self.elapsed_s else 0.0

    def figures(self) -> dict:
        lat = self.latencies_ms or [0.0]
        turns_per_session = self.turns / self.sessions if self.sessions else 0.0
        return {
            "rate": self.rate, "seconds": self.seconds, "offered_sessions": self.offered_sessions,
            "sessions": self.sessions, "finished": self.finished, "cut_off": self.cut_off, "turns": self.turns,
            "turns_per_session": round(turns_per_session, 2),
            "offered_turns_per_s": round(self.rate * turns_per_session, 1),
            "turns_per_s": round(self.turns_per_s, 1),
            "p50_ms": round(statistics.median(lat), 1), "p95_ms": round(percentile(lat, 95), 1),
            "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1),
            "generator_lag_p99_ms": round(percentile(self.lags_ms or [0.0], 99), 1),
            "errors": self.error_count, "errors_by_status": dict(self.errors),
            "decisions": dict(self.decisions), "handoffs": self.handoffs, "tickets_named": len(self.tickets),
            "publishes": self.publishes, "publish_failures": len(self.publish_failures),
        }


@dataclass
class Publisher:
    """An editor and a reviewer publishing a popular entry's new chat answer every `every` seconds."""

    every: float
    editor_token: str
    reviewer_token: str
    entry_ids: list[str]
    originals: dict[str, str] = field(default_factory=dict)

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event, result: SurgeResult) -> None:
        number = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.every)
                return
            except asyncio.TimeoutError:
                pass
            number += 1
            try:
                await self.publish(client, self.entry_ids[number % len(self.entry_ids)], number)
                result.publishes += 1
            except (httpx.HTTPError, PublishFailed) as failure:
                result.publish_failures.append(str(failure))

    async def publish(self, client: httpx.AsyncClient, entry_id: str, number: int) -> None:
        editor = {"authorization": f"Bearer {self.editor_token}"}
        reviewer = {"authorization": f"Bearer {self.reviewer_token}"}
        change = _ok(await client.post("/v1/changes", json={"kind": "edit", "entry_id": entry_id}, headers=editor))
        entry = change["entry"]
        original = self.originals.setdefault(entry_id, entry["chat_answer"])
        entry["chat_answer"] = f"{original}\n（第{number}次修订）"
        _ok(await client.put(f"/v1/changes/{change['id']}", json={"entry": entry}, headers=editor))
        _ok(await client.post(f"/v1/changes/{change['id']}/submit", headers=editor))
        _ok(await client.post(f"/v1/changes/{change['id']}/publish", headers=reviewer))


class PublishFailed(Exception):
    pass


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise PublishFailed(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                            f"{response.text[:200]}")
    return response.json()


class Surge:
    """The open-loop arrivals and each session's turns."""

    def __init__(self, base: str, writer: ScriptWriter, result: SurgeResult, think: tuple[float, float]) -> None:
        self.base, self.writer, self.result, self.think = base, writer, result, think
        self.last_reply = 0.0
        self.start = 0.0  # the loop's clock when the load began

    async def run(self, seed: int, max_sessions: int, publisher: Publisher | None, fault: Fault | None = None) -> None:
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as client:
            stop = asyncio.Event()
            publishing = asyncio.create_task(publisher.run(client, stop, self.result)) if publisher else None
            arrivals = random.Random(seed)
            start = self.start = loop.time()
            faulting = asyncio.create_task(fault.inject(start, self.result.fault_marks)) if fault else None
            sessions: list[asyncio.Task] = []
            due = arrivals.expovariate(self.result.rate)
            while due < self.result.seconds and len(sessions) < max_sessions:
                script = self.writer.script()
                await asyncio.sleep(max(0.0, start + due - loop.time()))
                sessions.append(asyncio.create_task(self.session(client, script, start + due, len(sessions))))
                due += arrivals.expovariate(self.result.rate)
            self.result.offered_sessions = self.result.sessions = len(sessions)
            done, open_ = await asyncio.wait(sessions, timeout=DRAIN_SECONDS) if sessions else (set(), set())
            for task in open_:
                task.cancel()
            self.result.cut_off = len(open_)
            for task in done:
                if task.exception() is not None:  # a bug here, not the service's: shown, not hidden
                    self.result.errors[f"generator: {type(task.exception()).__name__}"] += 1
            self.result.finished = sum(1 for task in done if task.exception() is None and task.result())
            stop.set()
            if publishing:
                await publishing
            if faulting:
                await faulting  # a fault later than the load still runs (and restores what it stopped) before this returns
            self.result.elapsed_s = max(0.0, self.last_reply - start)

    async def session(self, client: httpx.AsyncClient, script: Script, due: float, number: int = 0) -> bool:
        """The script's turns, each sent when due; False when a turn failed (the citizen gives up)."""
        loop = asyncio.get_running_loop()
        think = random.Random(script.think_seed)
        session, last = None, None
        for step in script.steps:
            text = self.said(step, last, think)
            if text is None:
                continue
            await asyncio.sleep(max(0.0, due - loop.time()))
            sent = loop.time()
            last = await self.turn(client, text, session, due, sent, number)
            if last is None:
                return False
            session = last["session"]
            due = loop.time() + think.uniform(*self.think)
        return True

    def said(self, step: Step, last: dict | None, think: random.Random) -> str | None:
        if step.choose is None:
            return step.text
        if not last or last["decision"] != "clarify" or not last["choices"]:
            return None  # the engine did not ask: nothing to pick
        number = min(step.choose, len(last["choices"]) - 1)
        return think.choice(self.writer.choice_words(number))

    async def turn(self, client: httpx.AsyncClient, text: str, session: str | None, due: float, sent: float,
                   number: int = 0) -> dict | None:
        body = {"text": text, "region": REGION} | ({"session": session} if session else {})
        try:
            response = await client.post("/v1/chat", json=body)
        except httpx.HTTPError as error:
            self.result.errors[type(error).__name__] += 1
            self.record(number, due, sent, type(error).__name__, "")
            return None
        ended = asyncio.get_running_loop().time()
        self.last_reply = max(self.last_reply, ended)
        self.result.turns += 1
        self.result.latencies_ms.append((ended - due) * 1000)
        self.result.lags_ms.append((sent - due) * 1000)
        if response.status_code != 200:
            self.result.errors[str(response.status_code)] += 1
            self.record(number, due, sent, str(response.status_code), error_code(response), ended)
            return None
        self.record(number, due, sent, "200", "", ended)
        try:
            reply = response.json()
        except ValueError:
            self.result.errors["200 without JSON"] += 1
            return None
        self.result.decisions[reply["decision"]] += 1
        if reply["decision"] == "handoff":
            self.result.handoffs += 1
            if not reply.get("ticket"):
                self.result.errors["handoff without a ticket"] += 1
                return None
            self.result.tickets.add(reply["ticket"]["number"])
        return reply

    def record(self, number: int, due: float, sent: float, status: str, code: str, ended: float | None = None) -> None:
        ended = asyncio.get_running_loop().time() if ended is None else ended
        self.result.outcomes.append(Outcome(number, sent - self.start, ended - self.start, (ended - due) * 1000,
                                            status, code))


def error_code(response: httpx.Response) -> str:
    """The error shape's code, or "-" when the body is not in that shape (nginx's own HTML 502, say)."""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "-"


# ---- faults during the load (issue 16) -------------------------------------------------------------------
class Fault:
    """Something done to the deployment `at` seconds into the load; `marks` gets when each part of it happened."""

    at: float
    struck: ClassVar[str]  # the mark when it struck
    over: ClassVar[str]    # the mark recovery is timed from

    async def inject(self, start: float, marks: dict[str, float]) -> None:
        raise NotImplementedError

    @staticmethod
    def phases(marks: dict[str, float]) -> list[tuple[str, float, float]]:
        """(name, from, to) in seconds into the load; a request belongs to the phase its answer came in."""
        raise NotImplementedError


@dataclass
class KillWorker(Fault):
    """SIGKILL one worker process, not restarted: nginx has to route around it."""

    pid: int
    at: float
    struck: ClassVar[str] = "killed"
    over: ClassVar[str] = "killed"

    async def inject(self, start: float, marks: dict[str, float]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start + self.at - loop.time()))
        os.kill(self.pid, signal.SIGKILL)
        marks["killed"] = loop.time() - start

    @staticmethod
    def phases(marks: dict[str, float]) -> list[tuple[str, float, float]]:
        return [("before", 0.0, marks["killed"]), ("after", marks["killed"], float("inf"))]


@dataclass
class RestartDatabase(Fault):
    """Stop PostgreSQL (`.ci/start-postgres pause DIR`, a fast shutdown: open connections are cut), keep it
    down `down_for` seconds, start it again (`resume DIR`). The commands run in a thread: the arrivals go on."""

    cluster_dir: str
    at: float
    down_for: float
    struck: ClassVar[str] = "stopping"
    over: ClassVar[str] = "started"

    async def inject(self, start: float, marks: dict[str, float]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start + self.at - loop.time()))
        marks["stopping"] = loop.time() - start
        await asyncio.to_thread(self.postgres, "pause")
        marks["stopped"] = loop.time() - start
        try:
            await asyncio.sleep(self.down_for)
        finally:
            marks["starting"] = loop.time() - start
            await asyncio.to_thread(self.postgres, "resume")
            marks["started"] = loop.time() - start

    @staticmethod
    def phases(marks: dict[str, float]) -> list[tuple[str, float, float]]:
        # "down" runs from the stop command to the start command's return: PostgreSQL refuses connections
        # from its first moment of shutting down until it is ready again.
        return [("before", 0.0, marks["stopping"]), ("down", marks["stopping"], marks["started"]),
                ("after", marks["started"], float("inf"))]

    def postgres(self, command: str) -> None:
        subprocess.run([str(START_POSTGRES), command, self.cluster_dir], check=True, capture_output=True, timeout=120)


def run_surge(base: str, rate: float, seconds: float, seed: int = 0, *, think: tuple[float, float] = (2.0, 5.0),
              max_sessions: int = MAX_SESSIONS, publisher: Publisher | None = None,
              fault: Fault | None = None) -> SurgeResult:
    """Sessions arriving at `rate` a second for `seconds` against `base` (a loopback address), until each has
    finished or DRAIN_SECONDS after the last arrival."""
    host = urlparse(base).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the surge generator sends only to this machine (127.0.0.1), not to {host}")
    if not 0 < rate <= 200 or not 0 < seconds <= MAX_MINUTES * 60:
        raise ValueError(f"rate 0–200 a second and at most {MAX_MINUTES} minutes, not {rate}/s for {seconds} s")
    result = SurgeResult(rate, seconds)
    surge = Surge(base, ScriptWriter(seed), result, think)
    asyncio.run(surge.run(seed, min(max_sessions, MAX_SESSIONS), publisher, fault))
    return result


def tickets_in_database(url: str) -> set[str]:
    """Every ticket number in the database at `url`."""
    from sqlalchemy import select

    from storage import Database
    from storage.tables import TicketRow

    db = Database(url)
    try:
        with db.session() as s:
            return set(s.execute(select(TicketRow.number)).scalars())
    finally:
        db.dispose()


def turns_in_database(url: str) -> tuple[int, int]:
    """(turn rows, conversations whose turn count differs from their turn rows: half-written ones)."""
    from sqlalchemy import func, select

    from storage import Database
    from storage.tables import ConversationRow, TurnRow

    db = Database(url)
    try:
        with db.session() as s:
            rows = s.execute(select(TurnRow.conversation_id, func.count()).group_by(TurnRow.conversation_id)).all()
            counted = dict(s.execute(select(ConversationRow.id, ConversationRow.turns)).all())
        written = dict(rows)
        mismatched = sum(1 for conversation, turns in counted.items() if written.get(conversation, 0) != turns)
        return sum(written.values()), mismatched
    finally:
        db.dispose()


# ---- what a fault did: the requests before, during and after it -------------------------------------------
def phase_figures(outcomes: list[Outcome]) -> dict:
    """Requests, failures by status and error code, and latency, of the requests answered in one phase."""
    latencies = [o.latency_ms for o in outcomes] or [0.0]
    failures = Counter(o.failure for o in outcomes if not o.ok)
    return {"requests": len(outcomes), "ok": len(outcomes) - sum(failures.values()),
            "failed": sum(failures.values()), "failures": dict(failures),
            "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1)}


def by_phase(result: SurgeResult, fault: Fault) -> dict[str, dict]:
    return {name: phase_figures([o for o in result.outcomes if begin <= o.ended_s < end])
            for name, begin, end in fault.phases(result.fault_marks)}


def recovery(result: SurgeResult, since: float) -> dict:
    """From `since` (the worker killed, PostgreSQL ready again): the first success and the last failure."""
    after = [o for o in result.outcomes if o.ended_s >= since]
    first_ok = min((o.ended_s for o in after if o.ok), default=None)
    last_failure = max((o.ended_s for o in after if not o.ok), default=None)
    return {"first_success_after_s": None if first_ok is None else round(first_ok - since, 2),
            "failures_after": sum(1 for o in after if not o.ok),
            "failing_until_s": 0.0 if last_failure is None else round(last_failure - since, 2)}


def across(result: SurgeResult, at: float) -> dict:
    """Requests in flight when the fault struck, and the sessions answered before it that spoke again after
    it: how many of them got every later turn answered (a conversation continued, on whichever worker)."""
    in_flight = [o for o in result.outcomes if o.sent_s < at <= o.ended_s]
    sessions: dict[int, list[Outcome]] = {}
    for o in result.outcomes:
        sessions.setdefault(o.session, []).append(o)
    spanning = [turns for turns in sessions.values()
                if any(o.ok and o.ended_s < at for o in turns) and any(o.sent_s >= at for o in turns)]
    return {"in_flight": len(in_flight), "in_flight_failed": sum(1 for o in in_flight if not o.ok),
            "sessions_spanning": len(spanning),
            "sessions_continued": sum(1 for turns in spanning if all(o.ok for o in turns if o.sent_s >= at))}


def fault_figures(result: SurgeResult, fault: Fault) -> dict:
    marks = result.fault_marks
    return {"kind": type(fault).__name__, "marks_s": {k: round(v, 2) for k, v in marks.items()},
            "phases": by_phase(result, fault), "recovery": recovery(result, marks[fault.over]),
            "across": across(result, marks[fault.struck])}


# ---- the topology, for the command line -------------------------------------------------------------------
@dataclass
class Deployment:
    base: str
    database_url: str
    database: str            # "PostgreSQL" or "SQLite", for the report
    workers: list[subprocess.Popen]
    tokens: dict[str, str]   # editor and reviewer API tokens


def create_publishers(url: str, scratch: Path) -> dict[str, str]:
    """An editor and a reviewer account (province-wide), as `frontdoor accounts create/token` make them."""
    from frontdoor.components import account_store, open_database
    from frontdoor.settings import Settings

    settings = Settings(_env_file=None, data_dir=scratch / "cli", database_url=url)
    db = open_database(settings)  # migrates
    try:
        accounts = account_store(settings, db)
        tokens = {}
        for role in ("editor", "reviewer"):
            accounts.create(f"surge-{role}", uuid.uuid4().hex, role, region="", display_name=f"压测{role}", by="cli")
            tokens[role], _ = accounts.open_session(f"surge-{role}", "token", None, by="cli")
        return tokens
    finally:
        db.dispose()


def start_workers(url: str, scratch: Path, count: int) -> list[tuple[subprocess.Popen, int]]:
    """`count` single-worker `frontdoor serve` processes on one database, started side by side (the knowledge
    and its embeddings are in the database already: `load_knowledge`)."""
    def one(n: int) -> tuple[subprocess.Popen, int]:
        data_dir = scratch / f"worker-{n}"
        data_dir.mkdir()
        process, base = start_service(data_dir, 1, {
            "FRONTDOOR_DATABASE_URL": url, "FRONTDOOR_VOICE": "false", "FRONTDOOR_SEED_ON_START": "false",
            "FRONTDOOR_MESSAGES_PER_CALLER_MINUTE": "1000000"}, timeout=1800)  # each fits its calibrator: minutes
        return process, int(base.rsplit(":", 1)[1])

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def load_seed(url: str) -> None:
    """The seed entries, published, with the phrasings' embeddings that bench/publish.py keeps on disk (when
    it has them): the workers then start side by side, without seeding or embedding them."""
    import hashlib

    import numpy as np

    from bench.publish import CACHE_DIR
    from frontdoor.components import load_embedder
    from frontdoor.settings import Settings
    from knowledge_base.store import EmbeddingCache, KnowledgeStore
    from storage import Database

    model_id = load_embedder(Settings(_env_file=None, model_dir=ROOT / "var" / "models", allow_download=False)).model_id
    kept = CACHE_DIR / f"{hashlib.sha256(model_id.encode()).hexdigest()[:16]}.npz"
    db = Database(url)
    try:
        db.migrate()
        KnowledgeStore(db).import_entries(read_seed_entries(), by="bench", source="bench.surge")
        if kept.exists():
            with np.load(kept) as saved:
                EmbeddingCache(db).put_many(model_id, dict(zip(saved["hashes"].tolist(), saved["vectors"])))
    finally:
        db.dispose()


def database_for(args, scratch: Path) -> tuple[str, str, str | None]:
    """(url, which, admin url and schema to drop): a fresh PostgreSQL schema, or SQLite when there is none."""
    from bench.publish import admin_execute, schema_url

    admin = args.database_url or os.environ.get("FRONTDOOR_TEST_POSTGRES_URL")
    if not admin:
        return f"sqlite:///{scratch / 'surge.db'}", "SQLite (no FRONTDOOR_TEST_POSTGRES_URL or --database-url)", None
    schema = f"bench_surge_{uuid.uuid4().hex[:10]}"
    admin_execute(admin, f'CREATE SCHEMA "{schema}"')
    return schema_url(admin, schema), f"PostgreSQL (schema {schema})", schema


def profile_worker(pid: int, seconds: int, out: Path, after: float) -> subprocess.Popen:
    """py-spy sampling one worker for `seconds`, starting `after` seconds into the load."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
               "--format", "speedscope", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(["sh", "-c", f"sleep {after} && exec " + " ".join(command)],
                            stdout=subprocess.DEVNULL, stderr=open(str(out) + ".log", "w"))


def warm_up(base: str, writer: ScriptWriter) -> None:
    """Every worker has loaded its index and answered once before the clock starts."""
    with httpx.Client(base_url=base, timeout=120) as client:
        for entry in writer.popular(10):
            client.post("/v1/chat", json={"text": entry.question, "region": REGION}).raise_for_status()


def one_step(base: str, url: str, rate: float, args, publisher: Publisher | None, profile_pid: int | None,
             fault: Fault | None = None) -> dict:
    """One rate for `--minutes`: its figures, the tickets it opened and the machine's load around it."""
    spy = profile_worker(profile_pid, args.profile_seconds, args.profile_out, after=10) if profile_pid else None
    before_tickets = tickets_in_database(url)
    before_turns, _ = turns_in_database(url)
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = run_surge(base, rate, args.minutes * 60, args.seed, think=tuple(args.think),
                       max_sessions=args.max_sessions, publisher=publisher, fault=fault)
    load_after = [round(x, 2) for x in os.getloadavg()]
    opened = tickets_in_database(url) - before_tickets
    turns_after, mismatched = turns_in_database(url)
    if spy:
        spy.wait(timeout=args.profile_seconds + 60)
    if result.publish_failures:
        print("publish failures:", *result.publish_failures[:5], sep="\n  ", file=sys.stderr)
    answered = sum(1 for o in result.outcomes if o.ok)
    step = result.figures() | {
        "tickets_opened": len(opened), "nothing_lost": opened == result.tickets,
        # a ticket a reply named that is not in the database (lost), or one in it that no reply named (its
        # citizen never heard of it: the reply was lost after the commit)
        "tickets_lost": len(result.tickets - opened), "tickets_unnamed": len(opened - result.tickets),
        "turns_answered": answered, "turn_rows_written": turns_after - before_turns,
        "conversations_half_written": mismatched,
        "load_before": load_before, "load_after": load_after}
    if fault:
        step["fault"] = fault_figures(result, fault)
    return step


def report(steps: list[dict], database: str, args) -> None:
    print(f"database: {database}; {args.workers} workers behind nginx; {os.cpu_count()} cores shared by the "
          f"workers, nginx, the database and this generator; {args.minutes * 60:.0f} s of arrivals per rate")
    table = [{k: v for k, v in step.items() if k != "fault"} for step in steps]
    print("| measure | " + " | ".join(f"{step['rate']:g}/s" for step in table) + " |")
    print("|---|" + "---|" * len(table))
    for key in table[0]:
        print(f"| {key} | " + " | ".join(str(step[key]) for step in table) + " |")
    for step in steps:
        if "fault" in step:
            report_fault(step["fault"])
    print(json.dumps({"steps": steps, "workers": args.workers, "database": database.split(" ")[0],
                      "cores": os.cpu_count(), "think_s": args.think, "seed": args.seed,
                      "fault": args.fault, "fault_at": args.fault_at, "fault_for": args.fault_for}, ensure_ascii=False))


def report_fault(figures: dict) -> None:
    """The phases around the fault, a column each, then when it recovered."""
    phases = figures["phases"]
    print(f"\n{figures['kind']}: " + ", ".join(f"{k} at {v} s" for k, v in figures["marks_s"].items()))
    print("| phase (by when the answer came) | " + " | ".join(phases) + " |")
    print("|---|" + "---|" * len(phases))
    for key in ("requests", "ok", "failed", "failures", "p50_ms", "p95_ms", "p99_ms"):
        print(f"| {key} | " + " | ".join(str(phase[key]) for phase in phases.values()) + " |")
    print("recovery:", json.dumps(figures["recovery"]), " across the fault:", json.dumps(figures["across"]))


def own_cluster() -> tuple[str, str]:
    """A PostgreSQL cluster of the bench's own (`.ci/start-postgres`), to stop and start without stopping the
    one other people's tests are using: (admin URL, its folder)."""
    done = subprocess.run([str(START_POSTGRES)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"could not start a PostgreSQL of the bench's own: {done.stderr[-1000:]}")
    exports = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines()
                   if line.startswith("export "))
    return exports["FRONTDOOR_TEST_POSTGRES_URL"], exports["FRONTDOOR_TEST_POSTGRES_DIR"]


def make_fault(args, workers: list[tuple[subprocess.Popen, int]], cluster_dir: str | None) -> Fault | None:
    if args.fault == "kill-worker":
        return KillWorker(workers[0][0].pid, args.fault_at)
    if args.fault == "restart-db":
        return RestartDatabase(cluster_dir, args.fault_at, args.fault_for)
    return None


def keep_logs(scratch: Path, to: Path | None) -> None:
    """nginx's access and error logs and each worker's log, kept after the scratch folder goes."""
    if not to:
        return
    to.mkdir(parents=True, exist_ok=True)
    for log in [scratch / "nginx" / "access.log", scratch / "nginx" / "nginx.stderr", *scratch.glob("worker-*/server.log")]:
        if log.exists():
            shutil.copy(log, to / (log.name if log.parent.name == "nginx" else f"{log.parent.name}.log"))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, nargs="+", default=[33],
                        help="new sessions a second (Poisson arrivals); several: one after the other, a column each")
    parser.add_argument("--minutes", type=float, default=10, help=f"how long sessions arrive, per rate (at most {MAX_MINUTES})")
    parser.add_argument("--workers", type=int, default=2, help="`frontdoor serve` processes behind nginx")
    parser.add_argument("--open-loop", action="store_true",
                        help="arrivals do not wait for replies (always so: the flag only says it)")
    parser.add_argument("--publish-every", type=float, help="publish a changed chat answer every S seconds")
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 5.0), help="seconds between a reply and the next turn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-sessions", type=int, default=MAX_SESSIONS)
    parser.add_argument("--database-url", help="PostgreSQL admin URL (default: $FRONTDOOR_TEST_POSTGRES_URL)")
    parser.add_argument("--profile-seconds", type=int, help="py-spy one worker this long, from 10 s into the last rate")
    parser.add_argument("--profile-out", type=Path, default=Path("/tmp/surge.speedscope.json"))
    parser.add_argument("--fault", choices=("kill-worker", "restart-db"),
                        help="kill-worker: SIGKILL one worker (not restarted); restart-db: stop PostgreSQL, start it again")
    parser.add_argument("--fault-at", type=float, default=30, help="seconds into the load the fault strikes")
    parser.add_argument("--fault-for", type=float, default=10, help="restart-db: seconds PostgreSQL stays stopped")
    parser.add_argument("--postgres-dir",
                        help="restart-db: the cluster to stop (.ci/start-postgres's DIR, with its URL in --database-url "
                             "or $FRONTDOOR_TEST_POSTGRES_URL); default: a cluster of the bench's own, started and removed")
    parser.add_argument("--keep-logs", type=Path, help="copy nginx's and the workers' logs here at the end")
    args = parser.parse_args()
    if args.fault and len(args.rate) > 1:
        parser.error("a fault is measured at one rate (a killed worker is not restarted)")
    if args.fault and not 0 < args.fault_at < args.minutes * 60:
        parser.error("--fault-at must fall inside the load")
    if args.fault == "restart-db" and args.postgres_dir and not (args.database_url or os.environ.get("FRONTDOOR_TEST_POSTGRES_URL")):
        parser.error("--postgres-dir needs its cluster's URL (--database-url or $FRONTDOOR_TEST_POSTGRES_URL)")
    return args


def main() -> int:
    args = arguments()
    from bench.balancer import start_nginx, stop_nginx
    from bench.chat import _free_port
    from bench.publish import admin_execute

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` and kill: stop the workers, drop the schema
    cluster = None
    if args.fault == "restart-db" and not args.postgres_dir:
        args.database_url, cluster = own_cluster()
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-surge-") as scratch_name:
        scratch = Path(scratch_name)
        workers, nginx, steps, schema = [], None, [], None
        try:
            url, database, schema = database_for(args, scratch)
            tokens = create_publishers(url, scratch)
            load_seed(url)
            workers = start_workers(url, scratch, args.workers)
            (scratch / "nginx").mkdir()
            listen = _free_port()
            nginx = start_nginx(scratch / "nginx", listen, [port for _, port in workers])
            base = f"http://127.0.0.1:{listen}"
            writer = ScriptWriter(args.seed)
            warm_up(base, writer)
            publisher = (Publisher(args.publish_every, tokens["editor"], tokens["reviewer"],
                                   [e.id for e in writer.popular(5)]) if args.publish_every else None)
            fault = make_fault(args, workers, args.postgres_dir or cluster)
            for n, rate in enumerate(args.rate):
                last = n == len(args.rate) - 1
                steps.append(one_step(base, url, rate, args, publisher,
                                      workers[0][0].pid if last and args.profile_seconds else None, fault))
                print(f"  {rate:g}/s: {json.dumps(steps[-1], ensure_ascii=False)}", file=sys.stderr, flush=True)
        finally:
            if nginx:
                stop_nginx(nginx)
            for process, _ in workers:
                process.terminate()
                process.wait(timeout=60)
            keep_logs(scratch, args.keep_logs)
            if cluster:
                subprocess.run([str(START_POSTGRES), "stop", cluster], capture_output=True)
            elif schema:
                admin_execute(args.database_url or os.environ["FRONTDOOR_TEST_POSTGRES_URL"],
                              f'DROP SCHEMA "{schema}" CASCADE')
    report(steps, database, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
