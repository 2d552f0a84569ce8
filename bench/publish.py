"""Publishing benchmark: from an editor's publish to every worker answering from the new version.

    source /tmp/pg.env   # or: eval "$(.ci/start-postgres)"  (exports FRONTDOOR_TEST_POSTGRES_URL)
    .venv/bin/python -m bench.publish [--workers 2 4] [--entries 1000 10000] [--repeats 5] [--change answer|sample]

On PostgreSQL (a schema of its own per knowledge-base size, dropped at the end), for each number of
entries N: N synthetic published entries (the shipped province-wide seed entries copied per city and
district, each copy with its own id, question, samples and answers, scoped to its city); their
embeddings are computed once here (and kept under var/bench-cache/publish for the next run), so the
workers start from the shared cache. Then for each number of workers W: `frontdoor serve --workers W`
(FRONTDOOR_VOICE=false; FRONTDOOR_CHAT_PRECISION=0.5, because the copies of one seed entry are
near-duplicates of each other, so at the default 0.95 the engine offers a choice instead of answering,
and the benchmark needs to see answers) on a free port; once every worker answers, `--repeats` times:
  1. `--clients` citizens keep asking POST /v1/chat one entry's question, each request on a new
     connection (so every worker is asked), until every worker has answered it;
  2. the entry's chat answer is published anew (a store write with status published: the transaction
     every publish takes; `--change sample` also adds a sample question, which has to be embedded and
     makes every worker re-fit its calibration);
  3. per worker (X-Frontdoor-Worker), the first moment a reply came from the published version (its
     knowledge_revision), i.e. answered with the new text. The figure is the time from the publish to
     the moment the last worker did so. Also counted, all of which must be 0: failed requests, old
     replies from a worker after it had answered new, and answers whose text is not that of the version
     they came from (with `--change sample` the new calibration may make the engine offer a choice
     instead of answering; such replies still show the version by their knowledge_revision).
Prints a table, the machine's load, and a final JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.chat import start_service
from knowledge_base.entry import Entry, Status
from knowledge_base.seed import read_seed_entries

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "var" / "bench-cache" / "publish"

CITIES = {
    "南京市": "玄武区 秦淮区 建邺区 鼓楼区 浦口区 栖霞区 雨花台区 江宁区 六合区 溧水区 高淳区",
    "无锡市": "梁溪区 锡山区 惠山区 滨湖区 新吴区 江阴市 宜兴市",
    "徐州市": "云龙区 贾汪区 泉山区 铜山区 丰县 沛县 睢宁县 新沂市 邳州市",
    "常州市": "天宁区 钟楼区 新北区 武进区 金坛区 溧阳市",
    "苏州市": "姑苏区 虎丘区 吴中区 相城区 吴江区 常熟市 张家港市 昆山市 太仓市",
    "南通市": "崇川区 通州区 海门区 如东县 启东市 如皋市 海安市",
    "连云港市": "连云区 海州区 赣榆区 东海县 灌云县 灌南县",
    "淮安市": "清江浦区 淮安区 淮阴区 洪泽区 涟水县 盱眙县 金湖县",
    "盐城市": "亭湖区 盐都区 大丰区 响水县 滨海县 阜宁县 射阳县 建湖县 东台市",
    "扬州市": "广陵区 邗江区 江都区 宝应县 仪征市 高邮市",
    "镇江市": "京口区 润州区 丹徒区 丹阳市 扬中市 句容市",
    "泰州市": "海陵区 高港区 姜堰区 兴化市 靖江市 泰兴市",
    "宿迁市": "宿城区 宿豫区 沭阳县 泗阳县 泗洪县",
}


def synthetic_entries(count: int) -> list[Entry]:
    """`count` published entries: each province-wide seed entry copied per district, district after district.
    A copy's question and (up to four) samples name its district, its answers its city and district, and
    it is scoped to its city: about five phrasings each, all distinct."""
    seeds = [entry for entry in read_seed_entries() if "/" not in entry.region]
    entries: list[Entry] = []
    for city, districts in CITIES.items():
        for district in districts.split():
            for seed in seeds:
                if len(entries) == count:
                    return entries
                entries.append(seed.with_changes(
                    id=f"{seed.id}--{district}", question=f"{district}{seed.question}",
                    samples=tuple(f"{district}{sample}" for sample in seed.samples[:4]),
                    chat_answer=f"【{city}{district}】{seed.chat_answer}", voice_answer=f"{district}：{seed.voice_answer}",
                    region=f"江苏省/{city}", variant_of=None, status=Status.PUBLISHED))
    raise SystemExit(f"at most {len(entries)} synthetic entries can be made from the seed")


# ---- the database --------------------------------------------------------------------------------------
def postgres_url(given: str | None) -> str:
    url = given or os.environ.get("FRONTDOOR_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit('needs PostgreSQL: source /tmp/pg.env, or eval "$(.ci/start-postgres)", or --database-url')
    return url


def schema_url(admin_url: str, schema: str) -> str:
    from storage.database import normalise_url

    url = normalise_url(admin_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def admin_execute(admin_url: str, statement: str) -> None:
    from sqlalchemy import create_engine

    from storage.database import normalise_url

    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def load_knowledge(url: str, entries: list[Entry]) -> None:
    """The entries, published, and every phrasing's embedding in the database's cache."""
    from frontdoor.components import load_embedder
    from frontdoor.settings import Settings
    from knowledge_base.retrieval.embedding import text_hash
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import EmbeddingCache, KnowledgeStore
    from storage import Database

    db = Database(url)
    try:
        db.migrate()
        started = time.perf_counter()
        KnowledgeStore(db).import_entries(entries, by="bench", source="bench.publish")
        print(f"  {len(entries)} entries imported in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        embedder = load_embedder(Settings(model_dir=ROOT / "var" / "models", allow_download=False))
        cache = EmbeddingCache(db)
        kept = CACHE_DIR / f"{hashlib.sha256(embedder.model_id.encode()).hexdigest()[:16]}.npz"
        if kept.exists():
            with np.load(kept) as saved:
                cache.put_many(embedder.model_id, dict(zip(saved["hashes"].tolist(), saved["vectors"])))
        started = time.perf_counter()
        knowledge = KnowledgeBase(KnowledgeStore(db), embedder, cache)
        knowledge.index.refresh(force=True)
        index = knowledge.index.current
        print(f"  index built here once (embedding what {kept.name} lacked) in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        known = {}
        if kept.exists():
            with np.load(kept) as saved:
                known = dict(zip(saved["hashes"].tolist(), saved["vectors"]))
        known.update((text_hash(text), index.vectors[row]) for row, text in enumerate(index.phrasings))
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez(kept, hashes=np.array(list(known)), vectors=np.vstack(list(known.values())).astype(np.float32))
    finally:
        db.dispose()


# ---- asking ----------------------------------------------------------------------------------------------
@dataclass
class Reply:
    started: float
    ended: float
    worker: int | None
    ok: bool
    revision: int | None = None  # the knowledge revision the reply was decided on
    answered: bool = False  # with the entry's answer (not a choice of entries)
    new_text: bool = False  # the published text


@dataclass
class Round:
    """One publish, seen from the citizens' side."""

    published_at: float
    workers: set[int]
    replies: list[Reply] = field(default_factory=list)
    revision: int = 2**62  # the revision the publish committed (known once it has)

    def is_new(self, reply: Reply) -> bool:
        return reply.ok and reply.revision is not None and reply.revision >= self.revision

    def first_new(self) -> dict[int, float]:
        """Per worker, when its first reply from the published version came back."""
        first: dict[int, float] = {}
        for reply in self.replies:
            if self.is_new(reply):
                first[reply.worker] = min(first.get(reply.worker, reply.ended), reply.ended)
        return first

    @property
    def wrong_text(self) -> int:
        """Answers whose text does not match the version they were decided on."""
        return sum(1 for r in self.replies if r.ok and r.answered and r.new_text != self.is_new(r))

    @property
    def seconds(self) -> float | None:
        first = self.first_new()
        return max(first.values()) - self.published_at if set(first) >= self.workers else None

    @property
    def failed(self) -> int:
        return sum(not reply.ok for reply in self.replies)

    @property
    def old_after_new(self) -> int:
        first = self.first_new()
        return sum(1 for r in self.replies
                   if r.ok and not self.is_new(r) and r.worker in first and r.started > first[r.worker])


async def ask(client: httpx.AsyncClient, question: str, region: str, marker: str) -> Reply:
    started = time.monotonic()
    try:
        response = await client.post("/v1/chat", json={"text": question, "region": region})
        worker = int(response.headers["x-frontdoor-worker"])
        if response.status_code != 200:
            return Reply(started, time.monotonic(), worker, False)
        body = response.json()
        return Reply(started, time.monotonic(), worker, True, body["knowledge_revision"], body["decision"] == "answer",
                     marker in body["text"])
    except (httpx.HTTPError, KeyError, ValueError):
        return Reply(started, time.monotonic(), None, False)


async def keep_asking(base: str, question: str, region: str, marker: str, replies: list[Reply], stop: asyncio.Event,
                      clients: int, pause: float) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)  # a new connection per request
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def citizen() -> None:
            while not stop.is_set():
                replies.append(await ask(client, question, region, marker))
                await asyncio.sleep(pause)

        await asyncio.gather(*(citizen() for _ in range(clients)))


async def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def one_round(base: str, store, entry: Entry, workers: set[int], number: int, args) -> Round:
    marker = f"【第{number}次修订 {uuid.uuid4().hex[:6]}】"
    replies: list[Reply] = []
    stop = asyncio.Event()
    asking = asyncio.create_task(keep_asking(base, entry.question, entry.region, marker, replies, stop, args.clients,
                                             args.pause))
    try:
        # every worker has answered the old text before the publish
        if not await wait_for(lambda: {r.worker for r in replies if r.ok} >= workers, 120):
            raise SystemExit(f"not every worker answered before the publish: {workers}")
        current = await asyncio.to_thread(store.get, entry.id)
        changed = current.with_changes(chat_answer=marker + entry.chat_answer, status=Status.PUBLISHED)
        if args.change == "sample":
            changed = changed.with_changes(samples=(*current.samples, f"{marker}这个怎么办理"))
        published_at = time.monotonic()
        await asyncio.to_thread(store.save, changed, by="bench")
        result = Round(published_at, workers, replies, await asyncio.to_thread(store.revision))
        await wait_for(lambda: result.seconds is not None, args.timeout)
        await asyncio.sleep(1.0)  # and a while longer: nobody falls back to the old answer
    finally:
        stop.set()
        await asking
    return result


def answering(base: str, entries: list[Entry], wanted: int, seed: int) -> list[Entry]:
    """Entries (chosen at random) whose own question the service answers with them, not with a choice."""
    rng = np.random.default_rng(seed)
    found = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for row in rng.permutation(len(entries))[:200]:
            entry = entries[int(row)]
            reply = client.post("/v1/chat", json={"text": entry.question, "region": entry.region}).json()
            if reply["decision"] == "answer" and reply["entry"]["id"] == entry.id:
                found.append(entry)
                if len(found) == wanted:
                    return found
    raise SystemExit(f"the service answered only {len(found)} of 200 entries' own questions with them")


def every_worker(base: str, workers: int, timeout: float = 900) -> set[int]:
    """The worker pids, once every one of them answers /healthz at the published revision."""
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        while time.monotonic() < deadline:
            health = client.get("/healthz").json()
            seen[health["worker"]] = health
            if len(seen) == workers and all(h["knowledge_revision"] == h["published_revision"] for h in seen.values()):
                return set(seen)
            time.sleep(0.05)
    raise SystemExit(f"only {len(seen)} of {workers} workers answered within {timeout:.0f} s")


def run_configuration(url: str, entries: list[Entry], workers: int, args) -> dict:
    from knowledge_base.store import KnowledgeStore
    from storage import Database

    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-publish-") as scratch:
        started = time.perf_counter()
        process, base = start_service(Path(scratch), workers, {
            "FRONTDOOR_DATABASE_URL": url, "FRONTDOOR_VOICE": "false", "FRONTDOOR_SEED_ON_START": "false",
            "FRONTDOOR_CHAT_PRECISION": str(args.chat_precision)})
        db = Database(url)
        try:
            pids = every_worker(base, workers)
            print(f"  {workers} workers serving {len(entries)} entries after {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
            store = KnowledgeStore(db)
            targets = answering(base, entries, args.repeats, seed=workers * 1000 + len(entries))
            rounds = []
            for number, entry in enumerate(targets, 1):
                result = asyncio.run(one_round(base, store, entry, pids, number, args))
                rounds.append(result)
                shown = f"{result.seconds:.2f} s" if result.seconds is not None else f"> {args.timeout:.0f} s"
                each = ", ".join(f"{at - result.published_at:.2f}" for at in sorted(result.first_new().values()))
                print(f"  publish {number}: every worker answered new after {shown} (each: {each}); "
                      f"{len(result.replies)} requests, {result.failed} failed, {result.old_after_new} old after new, "
                      f"{result.wrong_text} wrong text", file=sys.stderr)
                time.sleep(args.settle)
        finally:
            db.dispose()
            process.terminate()
            process.wait(timeout=60)
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(scratch) / "server.log", args.log_dir / f"server-{workers}w-{len(entries)}.log")
    seconds = [r.seconds if r.seconds is not None else float("inf") for r in rounds]
    return {"workers": workers, "entries": len(entries), "change": args.change, "publishes": len(rounds),
            "median_s": round(statistics.median(seconds), 2), "max_s": round(max(seconds), 2),
            "requests": sum(len(r.replies) for r in rounds), "failed": sum(r.failed for r in rounds),
            "old_after_new": sum(r.old_after_new for r in rounds), "wrong_text": sum(r.wrong_text for r in rounds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--entries", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=5, help="publishes per configuration")
    parser.add_argument("--change", choices=("answer", "sample"), default="answer",
                        help="what each publish changes: the chat answer, or also a new sample question")
    parser.add_argument("--clients", type=int, default=8, help="citizens asking at once")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds each citizen waits between questions")
    parser.add_argument("--timeout", type=float, default=120, help="give up on a publish after this many seconds")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between publishes")
    parser.add_argument("--chat-precision", type=float, default=0.5,
                        help="the service's FRONTDOOR_CHAT_PRECISION (see above)")
    parser.add_argument("--database-url", help="PostgreSQL (default: $FRONTDOOR_TEST_POSTGRES_URL)")
    parser.add_argument("--log-dir", type=Path, help="keep each service's log here")
    args = parser.parse_args()

    admin = postgres_url(args.database_url)
    load_before = os.getloadavg()
    results = []
    for count in args.entries:
        schema = f"bench_publish_{count}_{uuid.uuid4().hex[:8]}"
        admin_execute(admin, f'CREATE SCHEMA "{schema}"')
        try:
            url = schema_url(admin, schema)
            print(f"{count} entries (schema {schema}):", file=sys.stderr)
            entries = synthetic_entries(count)
            load_knowledge(url, entries)
            for workers in args.workers:
                results.append(run_configuration(url, entries, workers, args))
        finally:
            admin_execute(admin, f'DROP SCHEMA "{schema}" CASCADE')
    load_after = os.getloadavg()

    print("| workers | entries | change | publishes | median s | max s | requests | failed | old after new | wrong text |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['workers']} | {r['entries']} | {r['change']} | {r['publishes']} | {r['median_s']} | {r['max_s']} "
              f"| {r['requests']} | {r['failed']} | {r['old_after_new']} | {r['wrong_text']} |")
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after],
            "cores": os.cpu_count()}
    print(f"load average (1, 5, 15 min) before {load['before']}, after {load['after']}, on {load['cores']} cores")
    print(json.dumps({"results": results, "load": load, "clients": args.clients, "pause_s": args.pause},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
