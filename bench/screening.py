"""Not everything is a question: greetings, thanks and gibberish (bench/not_questions.yaml, written for this
project) must get a prompt and never a ticket; real questions (every query of the evaluation packs) must never be
taken for gibberish or a greeting.

    .venv/bin/python -m bench.screening [--packs DIR] [--hashing]

Each message is the first turn of a new chat conversation through the engine as shipped (the seed knowledge base,
the shipped rules, the real e5 model unless --hashing). Prints counts per set and a final JSON line.
"""
from __future__ import annotations

import argparse
import json
import uuid
from collections import Counter
from pathlib import Path

import yaml

from assistant.turn import Channel, Kind, Turn
from bench.intake import build_engine
from evaluation.packs import read_queries

MESSAGES = Path(__file__).with_name("not_questions.yaml")
PACKS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "retrieval"
REGION = "江苏省/南京市"


def first_turn(engine, text: str):
    return engine.handle(Turn(session=f"chat-{uuid.uuid4().hex}", channel=Channel.CHAT, text=text, region=REGION))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=Path, default=PACKS)
    parser.add_argument("--hashing", action="store_true", help="the small test embedder instead of e5")
    args = parser.parse_args()
    engine = build_engine(args.hashing)
    figures = {}
    for name, messages in yaml.safe_load(MESSAGES.read_text(encoding="utf-8")).items():
        decisions = {text: first_turn(engine, text) for text in messages}
        kinds = Counter(f"{d.kind.value}:{d.reason}" for d in decisions.values())
        ticketed = [text for text, d in decisions.items() if d.kind is Kind.HANDOFF]
        figures[name] = {"messages": len(messages), "tickets": len(ticketed), "ticketed": ticketed, "decisions": dict(kinds)}
        print(f"{name:10s} {len(messages):4d} messages  tickets {len(ticketed)} {ticketed}  {dict(kinds)}")
    questions = [q.text for path in sorted(args.packs.glob("*.queries.jsonl")) for q in read_queries(path)]
    caught = [text for text in questions
              if engine.rules.unintelligible(text) or engine.rules.intent(text) in ("greeting", "thanks")]
    short = [text for text in questions if engine.rules.unclear.too_short(text)]
    figures["real_questions"] = {"messages": len(questions), "caught": len(caught), "examples": caught[:10],
                                 "too_short": len(short), "too_short_examples": short[:10]}
    print(f"real questions {len(questions)}: caught as greeting, thanks or gibberish {len(caught)} {caught[:10]}; "
          f"too short to take down when unanswered (asked to say more) {len(short)} {short[:10]}")
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
