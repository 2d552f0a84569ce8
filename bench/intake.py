"""Intake benchmark: written multi-turn 诉求 dialogues (bench/intake_dialogues.yaml) through the engine as shipped
(the seed knowledge base, the shipped rules, the real e5 model unless --hashing), one conversation each.

    .venv/bin/python -m bench.intake [--dialogues FILE] [--hashing] [--verbose]

Per dialogue: did it end in exactly one ticket, after how many turns, and does the ticket hold what was said:
request type (exact), place and time (the expected part is in the ticket's value), phone (the digits, or none
left when the citizen withheld it), region (exact, where given). Prints a table and a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import yaml

from assistant.turn import Channel, Kind, Turn

DIALOGUES = Path(__file__).with_name("intake_dialogues.yaml")
SLOTS = ("type", "where", "since", "contact", "region")


def build_engine(hashing: bool):
    from frontdoor.components import engine_factory, load_embedder
    from frontdoor.settings import Settings
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import EmbeddingCache, KnowledgeStore
    from storage import Database

    settings = Settings(_env_file=None)
    if hashing:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from fakes import HashingEmbedder

        embedder = HashingEmbedder()
    else:
        embedder = load_embedder(settings)
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'intake.db'}")
    db.migrate()
    knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db))
    knowledge.load_seed_if_empty()
    knowledge.index.refresh(force=True)
    return engine_factory(settings)(db, knowledge)


def run_dialogue(engine, dialogue: dict, region: str, now: datetime) -> dict:
    channel = Channel(dialogue["channel"])
    session = f"{channel.value}-{uuid.uuid4().hex}"
    first_ticket_turn, decisions = None, []
    for n, text in enumerate(dialogue["turns"], 1):
        decision = engine.handle(Turn(session=session, channel=channel, text=text, region=region,
                                      caller=dialogue.get("caller"), at=now))
        decisions.append(decision)
        if decision.kind is Kind.HANDOFF and first_ticket_turn is None:
            first_ticket_turn = n
    tickets = [t for t in engine.desk.list(limit=10_000) if t.conversation_id == session]
    return {"tickets": tickets, "turns": first_ticket_turn, "decisions": decisions}


def slot_results(expect: dict, ticket) -> dict[str, bool]:
    details = (ticket.details or {}) if ticket else {}
    got = {"type": ticket.request_type if ticket else None, "where": details.get("where") or "",
           "since": details.get("since") or "", "contact": details.get("contact"), "region": ticket.region if ticket else None}
    results = {}
    for slot in SLOTS:
        if slot not in expect:
            continue
        want = expect[slot]
        if slot in ("where", "since"):
            results[slot] = bool(want) and want in got[slot]
        elif slot == "contact":
            results[slot] = (got[slot] or "") == want
        else:
            results[slot] = got[slot] == want
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=Path, default=DIALOGUES)
    parser.add_argument("--hashing", action="store_true", help="a character-hashing embedder instead of e5 (quick)")
    parser.add_argument("--verbose", action="store_true", help="print every dialogue that missed something")
    args = parser.parse_args()

    data = yaml.safe_load(args.dialogues.read_text(encoding="utf-8"))
    engine = build_engine(args.hashing)
    now = datetime(2026, 3, 9, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Beijing
    hits, counts, turns, one_ticket, by_channel = Counter(), Counter(), [], 0, Counter()
    started = time.perf_counter()
    for dialogue in data["dialogues"]:
        outcome = run_dialogue(engine, dialogue, data["region"], now)
        ticket = outcome["tickets"][0] if outcome["tickets"] else None
        one_ticket += len(outcome["tickets"]) == 1
        by_channel[dialogue["channel"]] += 1
        if outcome["turns"]:
            turns.append(outcome["turns"])
        results = slot_results(dialogue["expect"], ticket)
        for slot, ok in results.items():
            counts[slot] += 1
            hits[slot] += ok
        if args.verbose and (not all(results.values()) or len(outcome["tickets"]) != 1):
            print(f"- {dialogue['turns']}\n  expected {dialogue['expect']}\n  got {ticket.request_type if ticket else None} "
                  f"{ticket.details if ticket else None} region={ticket.region if ticket else None} "
                  f"tickets={len(outcome['tickets'])}\n  said: {[d.text[:40] for d in outcome['decisions']]}")
    seconds = time.perf_counter() - started
    total = len(data["dialogues"])
    print(f"\n{total} dialogues ({dict(by_channel)}), {'hashing' if args.hashing else 'e5'} embedder, {seconds:.1f} s")
    print("| slot | right | of | accuracy |\n|---|---|---|---|")
    for slot in SLOTS:
        if counts[slot]:
            print(f"| {slot} | {hits[slot]} | {counts[slot]} | {hits[slot] / counts[slot]:.3f} |")
    all_hits, all_counts = sum(hits.values()), sum(counts.values())
    print(f"| all | {all_hits} | {all_counts} | {all_hits / all_counts:.3f} |")
    print(f"exactly one ticket: {one_ticket}/{total}; turns to the ticket: median {statistics.median(turns)}")
    print(json.dumps({"dialogues": total, "slot_accuracy": round(all_hits / all_counts, 4),
                      **{f"{s}_accuracy": round(hits[s] / counts[s], 4) for s in SLOTS if counts[s]},
                      "one_ticket_share": round(one_ticket / total, 4), "median_turns": statistics.median(turns),
                      "embedder": "hashing" if args.hashing else "e5"}, ensure_ascii=False))


if __name__ == "__main__":
    main()
