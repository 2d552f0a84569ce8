"""How long "Try it" takes: a question decided now and with a draft, over the seed knowledge base and over
10,000 entries (the seed copied per district, as bench.publish makes them). The first try with a draft builds
the draft's index; the same draft again is remembered.

    python -m bench.tryout [--entries 10000] [--rounds 5]

Prints medians over the rounds and a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from assistant.conversations import ConversationStore
from assistant.engine import Engine
from assistant.rules import load_rules
from assistant.tryout import Tryout
from assistant.turn import Channel
from bench.publish import synthetic_entries
from desk.tickets import TicketDesk
from frontdoor.components import load_embedder
from frontdoor.settings import Settings
from knowledge_base.retrieval.index import RetrievalIndex
from knowledge_base.seed import read_seed_entries
from storage import Database


def measure(name: str, entries, embedder, db: Database, rounds: int) -> dict:
    started = time.perf_counter()
    index = RetrievalIndex.build(entries, embedder, revision=1)
    built = time.perf_counter() - started
    knowledge = SimpleNamespace(index=SimpleNamespace(current=index))
    tryout = Tryout(Engine(knowledge, ConversationStore(db), TicketDesk(db), load_rules()), embedder)
    target = index.entries[len(index.entries) // 2]
    region = target.region or None
    first, again, plain = [], [], []
    for attempt in range(rounds):
        draft = target.with_changes(chat_answer=f"{target.chat_answer}（第{attempt}次更新）",
                                    samples=target.samples + (f"这个问题新加的第{attempt}种问法",))
        for timings in (first, again):
            started = time.perf_counter()
            tryout.run(target.question, region, Channel.CHAT, draft)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        tryout.run(target.question, region, Channel.CHAT, None)
        plain.append(time.perf_counter() - started)
    figures = {"knowledge_base": name, "entries": index.size, "phrasings": len(index.phrasings),
               "index_build_s": round(built, 2), "first_try_with_draft_ms": round(statistics.median(first) * 1000),
               "same_draft_again_ms": round(statistics.median(again) * 1000),
               "without_draft_ms": round(statistics.median(plain) * 1000)}
    print(f"{name}: {index.size} entries, {len(index.phrasings)} phrasings (index built in {built:.1f} s): "
          f"a draft first {figures['first_try_with_draft_ms']} ms, the same draft again {figures['same_draft_again_ms']} ms, "
          f"without a draft {figures['without_draft_ms']} ms (medians of {rounds})", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    embedder = load_embedder(Settings())
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'try.db'}")
        db.migrate()
        results = [measure("seed", read_seed_entries(), embedder, db, args.rounds),
                   measure(f"{args.entries} entries", synthetic_entries(args.entries), embedder, db, args.rounds)]
        db.dispose()
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
