"""Answer labels (a seat's one-click label on a ticket; citizens' rejections and choices read from the turns) and
the measured precision of automatic answers, over the in-process service (tests/conftest.py `inprocess`).

The in-process service is shared by many tests, so figures are compared before and after, and labels are found by
their conversation. A conversation's first turn is recorded as the engine records it (assistant/conversations.py)
where the test needs a particular decision (an automatic answer, a clarification), which with the small test
embedder depends on the calibration; every later turn goes through the real engine over /v1/chat."""
from __future__ import annotations

from datetime import timedelta

import pytest

from assistant.conversations import ConversationState, ConversationStore, new_session_id
from assistant.turn import Channel, Choice, Decision, Kind, Turn
from desk.tickets import TicketDesk, TicketDraft
from ground.clock import utcnow
from knowledge_base.labels import ChannelPrecision, LabelStore, wilson_interval

NANJING = "江苏省/南京市"
RECORDS = "ev-si-check-record"      # seed entries (knowledge_base/seed/everyday.yaml)
FLEXIBLE = "ev-si-flexible-enrol"


def chat(server, text: str = "", session: str | None = None, **extra) -> dict:
    body = {"text": text, "region": NANJING, **extra} | ({"session": session} if session else {})
    response = server.client.post("/v1/chat", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def handed_off(server, question: str) -> tuple[str, str]:
    """A conversation that asks `question`, then for a person: (its session, its ticket's number)."""
    session = chat(server, question)["session"]
    reply = chat(server, "转人工", session)
    assert reply["decision"] == "handoff", reply
    return session, reply["ticket"]["number"]


def recorded(server, question: str, decision: Decision, after: ConversationState) -> str:
    """A new conversation whose first turn asked `question` and got `decision`, recorded as the engine records it."""
    conversations = server.services.engine.conversations
    turn = Turn(session=decision.session, channel=Channel.CHAT, text=question, region=NANJING)
    conversations.record(turn, decision, after, said=question, before=ConversationState())
    return decision.session


def answered_automatically(server, question: str, entry_id: str, confidence: float = 0.97) -> str:
    session = new_session_id(Channel.CHAT)
    decision = Decision(Kind.ANSWER, session, "答复", reason="confident", confidence=confidence, entry_id=entry_id)
    return recorded(server, question, decision, ConversationState(query=question, answered=entry_id))


def label(server, number: str, entry_id: str | None, role: str = "seat"):
    return server.client.put(f"/v1/tickets/{number}/label", json={"entry_id": entry_id}, headers=server.headers(role))


def labels_of(server, session: str) -> list[dict]:
    response = server.client.get("/v1/labels", params={"days": 1, "limit": 1000}, headers=server.headers("editor"))
    assert response.status_code == 200, response.text
    return [item for item in response.json() if item["conversation_id"] == session]


def chat_precision(server) -> dict:
    response = server.client.get("/v1/confidence/precision", params={"days": 7}, headers=server.headers("reviewer"))
    assert response.status_code == 200, response.text
    return next((figures for figures in response.json() if figures["channel"] == "chat"),
                {"channel": "chat", "answers": 0, "wrong": 0, "labels": 0})


# ---- a seat's label ----------------------------------------------------------------------------------
def test_a_seat_labels_a_ticket_with_the_entry_that_would_have_answered_it(inprocess):
    question = "我想查一下这几年单位到底给我交了多少社保"
    session, number = handed_off(inprocess, question)
    response = label(inprocess, number, RECORDS)
    assert response.status_code == 200, response.text
    assert response.json() | {"at": None} == {"query": question, "entry_id": RECORDS, "correct": True, "source": "seat",
                                              "channel": "chat", "at": None, "conversation_id": session, "confidence": None}
    assert [(item["source"], item["entry_id"]) for item in labels_of(inprocess, session)] == [("seat", RECORDS)]


def test_a_seat_labels_a_ticket_that_no_entry_answers(inprocess):
    session, number = handed_off(inprocess, "楼上邻居家的空调外机滴水到我家阳台")
    response = label(inprocess, number, None)
    assert response.status_code == 200, response.text
    assert (response.json()["entry_id"], response.json()["correct"]) == (None, True)


def test_labelling_a_ticket_again_replaces_the_earlier_label(inprocess):
    session, number = handed_off(inprocess, "我在网上交的社保怎么查不到记录")
    assert label(inprocess, number, FLEXIBLE).status_code == 200
    assert label(inprocess, number, RECORDS).status_code == 200
    assert [(item["source"], item["entry_id"]) for item in labels_of(inprocess, session)] == [("seat", RECORDS)]


def test_an_unknown_ticket_is_404_in_the_error_shape(inprocess):
    response = label(inprocess, "19990101999999", RECORDS)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ticket_not_found" and "19990101999999" in response.json()["error"]["message"]


def test_an_unknown_entry_is_422(inprocess):
    _, number = handed_off(inprocess, "小区门口的井盖丢了没人管")
    response = label(inprocess, number, "no-such-entry")
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_entry"


def test_an_editor_cannot_label_a_ticket(inprocess):
    _, number = handed_off(inprocess, "公交车到站不停怎么投诉")
    response = label(inprocess, number, RECORDS, role="editor")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_a_seat_naming_another_entry_counts_the_automatic_answer_wrong(inprocess):
    question = "社保断缴了半年还能补吗"
    before = chat_precision(inprocess)
    session = answered_automatically(inprocess, question, FLEXIBLE)
    reply = chat(inprocess, "转人工", session)
    assert reply["decision"] == "handoff"
    assert label(inprocess, reply["ticket"]["number"], RECORDS).status_code == 200
    after = chat_precision(inprocess)
    assert (after["answers"] - before["answers"], after["wrong"] - before["wrong"], after["labels"] - before["labels"]) == (1, 1, 1)


# ---- citizens' labels, read from the turns --------------------------------------------------------
def test_a_rejected_automatic_answer_is_a_citizen_reject_label_and_lowers_precision(inprocess):
    question = "怎么查询自己的社保缴费记录"
    before = chat_precision(inprocess)
    session = answered_automatically(inprocess, question, RECORDS, confidence=0.97)
    reply = chat(inprocess, "不是这个", session)
    rejected = [item for item in labels_of(inprocess, session) if item["source"] == "citizen_reject"]
    assert [(r["query"], r["entry_id"], r["correct"], r["confidence"]) for r in rejected] == [(question, RECORDS, False, 0.97)]
    after = chat_precision(inprocess)
    again = int(reply["decision"] == "answer" and reply["reason"] == "confident")  # the engine may answer anew
    assert (after["answers"] - before["answers"], after["wrong"] - before["wrong"]) == (1 + again, 1)
    assert after["precision"] == pytest.approx((after["answers"] - after["wrong"]) / after["answers"])
    assert after["low"] <= after["precision"] <= after["high"]
    assert after["precision"] < 1


def test_a_picked_clarification_choice_is_a_citizen_choice_label(inprocess):
    question = "灵活就业的人社保自己怎么交"
    session = new_session_id(Channel.CHAT)
    choices = (Choice(1, FLEXIBLE, "灵活就业人员怎么自己交社保？"), Choice(2, RECORDS, "怎么查询自己的社保缴费记录？"))
    clarify = Decision(Kind.CLARIFY, session, "请选择", reason="close_candidates", confidence=0.62, choices=choices)
    recorded(inprocess, question, clarify, ConversationState(query=question, offered=[FLEXIBLE, RECORDS]))
    reply = chat(inprocess, session=session, choice=FLEXIBLE)
    assert (reply["decision"], reply["reason"]) == ("answer", "chosen")
    assert [(item["source"], item["query"], item["entry_id"], item["correct"], item["confidence"])
            for item in labels_of(inprocess, session)] == [("citizen_choice", question, FLEXIBLE, True, 0.62)]


def test_rejected_choices_are_each_a_citizen_reject_label(inprocess):
    question = "社保的事情想问一下"
    session = new_session_id(Channel.CHAT)
    clarify = Decision(Kind.CLARIFY, session, "请选择", reason="close_candidates", confidence=0.55,
                       choices=(Choice(1, FLEXIBLE, "…"), Choice(2, RECORDS, "…")))
    recorded(inprocess, question, clarify, ConversationState(query=question, offered=[FLEXIBLE, RECORDS]))
    chat(inprocess, "都不是", session)
    rejected = [(item["query"], item["entry_id"], item["correct"]) for item in labels_of(inprocess, session)
                if item["source"] == "citizen_reject"]
    assert sorted(rejected) == sorted([(question, FLEXIBLE, False), (question, RECORDS, False)])


def test_labels_and_precision_are_read_alike_on_every_database(db):
    """Three automatic answers on the phone: one the caller rejects, one a seat corrects, one nobody labels."""
    conversations, store, now = ConversationStore(db), LabelStore(db), utcnow()

    def say(session, text, decision, before, after, at):
        turn = Turn(session=session, channel=Channel.VOICE, text=text, region=NANJING)
        conversations.record(turn, decision, after, said=text, now=now + timedelta(seconds=at), before=before)

    for session, question in (("rejected", "社保怎么查"), ("corrected", "社保断了能补吗"), ("silent", "灵活就业怎么交社保")):
        asked = ConversationState(query=question, answered=RECORDS)
        say(session, question, Decision(Kind.ANSWER, session, "答复", reason="confident", confidence=0.9,
                                        entry_id=RECORDS), ConversationState(), asked, at=0)
    say("rejected", "不是这个", Decision(Kind.CLARIFY, "rejected", "请选择", reason="close_candidates"),
        ConversationState(query="社保怎么查", answered=RECORDS),
        ConversationState(query="社保怎么查", rejected=[RECORDS], unsatisfied=1), at=10)
    ticket = TicketDesk(db).open(TicketDraft(channel="voice", summary="社保断了能补吗", reason="asked_for_human", transcript=[],
                                             request_type="咨询", urgency="一般", dispatch_hours=24,
                                             conversation_id="corrected"), now=now)
    store.label_ticket(ticket.number, None, by="seat", now=now + timedelta(seconds=20))

    window = (now - timedelta(hours=1), now + timedelta(hours=1))
    assert [(label.source, label.query, label.entry_id, label.correct, label.channel) for label in store.labels(*window)] == [
        ("citizen_reject", "社保怎么查", RECORDS, False, "voice"), ("seat", "社保断了能补吗", None, True, "voice")]
    assert store.precision(*window) == [ChannelPrecision("voice", 3, 2, 2, 1 / 3, *wilson_interval(1, 3))]
    assert store.precision(now + timedelta(hours=1), now + timedelta(hours=2)) == []


# ---- the interval --------------------------------------------------------------------------------
@pytest.mark.parametrize("successes, trials, low, high", [
    (8, 10, 0.4902, 0.9433), (10, 10, 0.7225, 1.0), (0, 10, 0.0, 0.2775), (95, 100, 0.8882, 0.9785), (0, 0, 0.0, 1.0),
])
def test_the_wilson_interval_of_known_proportions(successes, trials, low, high):
    # The figures are scipy.stats.binomtest(k, n).proportion_ci(method="wilson"), rounded.
    assert wilson_interval(successes, trials) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))
