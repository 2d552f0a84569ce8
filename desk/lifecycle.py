"""A ticket's states and the steps between them (the desk's state machine; desk/tickets.py carries them out).

    open (受理) ─claim→ claimed ─reply→ replied ─close→ closed (办结) ─call_back→ closed, called back ─archive→ archived (归档)
                          │          │                     │
                          └─dispatch─┴→ dispatched (转办) ─department_claim→ handling ─department_answer→ answered ─reply/close→
                                                           closed ─call_back 不满意 (reopen)→ open

督办 is not a state: the supervision job (desk/supervision.py) flags a ticket near or past a deadline, and a supervisor
may urge the department working it; both are events on the timeline. The wording of each state for people is content
(desk/content/lifecycle.yaml).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import yaml


class TicketStatus(str, enum.Enum):
    OPEN = "open"              # 受理: waiting for a seat (again, after a 不满意 call-back)
    CLAIMED = "claimed"        # a seat has taken it
    REPLIED = "replied"        # the seat has answered the citizen
    DISPATCHED = "dispatched"  # 转办: with a department, or a street office (一单直达)
    HANDLING = "handling"      # the department has taken it up
    ANSWERED = "answered"      # the department has answered; back with the seat
    CLOSED = "closed"          # 办结 (then 回访)
    ARCHIVED = "archived"      # 归档


class CallbackResult(str, enum.Enum):
    SATISFIED = "satisfied"                    # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"                # 不满意: reopens the ticket
    UNREACHABLE = "unreachable"                # the citizen could not be reached


# Still being worked (its closing deadline runs).
LIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED, TicketStatus.REPLIED, TicketStatus.DISPATCHED, TicketStatus.HANDLING,
        TicketStatus.ANSWERED)
# With a seat, counting against its capacity.
HELD = (TicketStatus.CLAIMED, TicketStatus.REPLIED, TicketStatus.ANSWERED)


@dataclass(frozen=True)
class Transition:
    event: str                          # the kind of the event written on the timeline
    sources: tuple[TicketStatus, ...]   # the states it may come from
    target: TicketStatus | None         # None: the state does not change
    done: str                           # for messages: "it cannot be <done> now"


_S = TicketStatus
TRANSITIONS: dict[str, Transition] = {
    "claim": Transition("claimed", (_S.OPEN,), _S.CLAIMED, "claimed"),
    "reply": Transition("replied", (_S.CLAIMED, _S.REPLIED, _S.ANSWERED), _S.REPLIED, "replied to"),
    "dispatch": Transition("dispatched", (_S.CLAIMED, _S.REPLIED, _S.ANSWERED), _S.DISPATCHED, "dispatched"),
    "department_claim": Transition("department_claimed", (_S.DISPATCHED,), _S.HANDLING, "taken by a department"),
    "department_answer": Transition("department_answered", (_S.DISPATCHED, _S.HANDLING), _S.ANSWERED,
                                    "answered by a department"),
    "urge": Transition("urged", (_S.CLAIMED, _S.DISPATCHED, _S.HANDLING), None, "urged"),
    "reclassify": Transition("reclassified", LIVE, None, "reclassified"),
    "link": Transition("linked", LIVE, None, "linked under another ticket"),
    "close": Transition("closed", (_S.CLAIMED, _S.REPLIED, _S.ANSWERED), _S.CLOSED, "closed"),
    "call_back": Transition("called_back", (_S.CLOSED,), _S.CLOSED, "called back"),
    "reopen": Transition("reopened", (_S.CLOSED,), _S.OPEN, "reopened"),
    "archive": Transition("archived", (_S.CLOSED,), _S.ARCHIVED, "archived"),
}

SHIPPED_WORDING = Path(__file__).resolve().parent / "content" / "lifecycle.yaml"
CITIZEN_WORDING = Path(__file__).resolve().parent / "content" / "citizen_states.yaml"


def state_words(path: Path = SHIPPED_WORDING) -> dict:
    """The states, call-back results and event kinds in Chinese, for pages that show them."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def citizen_states(path: Path = CITIZEN_WORDING) -> dict[str, str]:
    """Each state as the citizen is told it ("已转交相关部门办理"), by status value."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["states"]
