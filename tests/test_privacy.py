"""Citizens' numbers: kept in the ticket a seat works, masked everywhere else (issue: privacy)."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from ground.privacy import find, mask
from storage.audit import AuditLog

MOBILE, ID_CARD = "13812345678", "32010219900101123X"
LUHN_CARD = "6222020200000000006"


def test_a_mobile_number_keeps_only_its_first_three_and_last_four_digits():
    assert mask(f"我的电话{MOBILE}，请回电") == "我的电话138****5678，请回电"


def test_a_mobile_number_written_in_groups_or_full_width_is_masked_too():
    assert mask("138-1234-5678") == "138-****-5678"
    assert mask("１３８１２３４５６７８") == "１３８****５６７８"


def test_an_id_card_number_keeps_only_its_first_four_and_last_two():
    assert mask(f"身份证{ID_CARD}") == "身份证3201************3X"


def test_a_bank_card_number_keeps_only_its_last_four_digits():
    assert mask(f"卡号{LUHN_CARD}") == "卡号***************0006"


def test_a_house_number_after_a_road_is_masked_but_a_date_or_a_metro_line_is_not():
    assert mask("住中山路123号4栋501室") == "住中山路***号*栋***室"
    assert mask("7月25号坐地铁3号线去做核酸") == "7月25号坐地铁3号线去做核酸"


def test_hotline_numbers_dates_and_order_numbers_are_left_alone():
    for text in ("请拨打12345或120", "2021年7月25日", "20210725", "订单号2021072512345678901"):
        assert mask(text) == text and find(text) == []


def test_the_unanswered_question_queue_shows_a_citizens_number_masked_but_the_ticket_keeps_it(inprocess):
    client, session = inprocess.client, f"chat-{uuid.uuid4().hex}"
    said = f"我家楼下的路灯坏了三天了没人修，我的电话{MOBILE}"
    reply = client.post("/v1/chat", json={"session": session, "text": said, "region": "江苏省/南京市"}).json()
    if reply["decision"] != "handoff":
        client.post("/v1/chat", json={"session": reply["session"], "text": "转人工"}).raise_for_status()
    from storage.tables import GapRow, TicketRow

    with inprocess.services.db.session() as s:
        gaps = s.execute(select(GapRow.text).where(GapRow.session == reply["session"])).scalars().all()
        ticket = s.execute(select(TicketRow).where(TicketRow.conversation_id == reply["session"])).scalars().first()
    assert gaps and all(MOBILE not in text and "138****5678" in text for text in gaps)
    assert any(MOBILE in turn["text"] for turn in ticket.transcript)  # the seat calls back on it


def test_the_audit_trail_masks_numbers_in_what_it_records(db):
    audit = AuditLog(db)
    audit.record(actor="editor", action="gap.dismiss", target="gap:1", at=datetime.now(timezone.utc),
                 label=f"路灯坏了 电话{MOBILE}", questions=[f"身份证{ID_CARD}"])
    (event,) = audit.list(target="gap:1")
    assert event.detail == {"label": "路灯坏了 电话138****5678", "questions": ["身份证3201************3X"]}


def test_an_entry_that_carries_a_mobile_number_cannot_be_drafted(inprocess):
    entry = {"question": "路灯坏了找谁", "chat_answer": "请拨打12345。", "samples": [f"路灯坏了 我电话{MOBILE}"],
             "region": "江苏省/南京市"}
    response = inprocess.client.post("/v1/changes", json={"kind": "create", "entry": entry}, headers=inprocess.headers("editor"))
    assert response.status_code == 422
    problems = " ".join(map(str, response.json()["error"].get("details") or [response.json()["error"]["message"]]))
    assert "mobile number (138****5678)" in problems and MOBILE not in problems


def test_an_entry_may_give_an_offices_landline_and_address(inprocess):
    entry = {"question": f"政务服务中心{uuid.uuid4().hex[:6]}在哪里", "chat_answer": "在江东中路265号，电话025-68788888。",
             "region": "江苏省/南京市"}
    response = inprocess.client.post("/v1/changes", json={"kind": "create", "entry": entry}, headers=inprocess.headers("editor"))
    assert response.status_code == 201, response.text


def test_the_access_log_drops_query_strings_and_log_messages_mask_numbers():
    from frontdoor.logs import Redact

    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", "/wechat/push?signature=abc&timestamp=1&nonce=2", "1.1", 200), None)
    assert Redact().filter(access) and access.getMessage() == '1.2.3.4:5 - "POST /wechat/push HTTP/1.1" 200'
    message = logging.LogRecord("frontdoor", logging.WARNING, __file__, 1, "caller %s asked", (MOBILE,), None)
    assert Redact().filter(message) and message.getMessage() == "caller 138****5678 asked"


def test_the_retention_purge_deletes_old_conversations_and_keeps_recent_ones_and_tickets(db):
    from datetime import timedelta

    from assistant.conversations import ConversationState, ConversationStore
    from assistant.turn import Channel, Decision, Kind, Turn
    from desk.tickets import TicketDesk
    from storage.retention import purge
    from storage.tables import ConversationRow, TicketRow, TurnRow

    now = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)
    store = ConversationStore(db)
    for session, age in (("chat-old", 200), ("chat-new", 10)):
        turn = Turn(session=session, channel=Channel.CHAT, text=f"电话{MOBILE}", region="江苏省/南京市")
        store.record(turn, Decision(Kind.HANDOFF, session, "已转人工", reason="asked_for_human"), ConversationState(),
                     said=turn.text, now=now - timedelta(days=age))
    from desk.tickets import TicketDraft

    TicketDesk(db).open(TicketDraft(channel="chat", summary="路灯坏了", reason="asked_for_human", transcript=[],
                                    request_type="求助", urgency="一般", dispatch_hours=24, conversation_id="chat-old"),
                        now=now - timedelta(days=200))

    purged = purge(db, days=180, now=now)

    assert (purged.conversations, purged.turns) == (1, 1)
    with db.session() as s:
        assert [row.id for row in s.execute(select(ConversationRow)).scalars()] == ["chat-new"]
        assert {row.conversation_id for row in s.execute(select(TurnRow)).scalars()} == {"chat-new"}
        assert s.execute(select(TicketRow)).scalars().first().conversation_id == "chat-old"  # the ticket is kept
