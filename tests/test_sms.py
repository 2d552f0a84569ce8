"""A seat's reply told to a phone citizen by SMS (api/sms/): Alibaba Cloud SMS's SendSms, against a local gateway
that checks the signature for real (tests/sms_fake.py)."""
import asyncio
import logging
from datetime import datetime, timezone

import httpx
import pytest

from api.sms import AliyunSms, SmsReplyDelivery, SmsWording, SmsWordingError, mobile_number, rpc_signature
from desk.tickets import Ticket, TicketStatus
from sms_fake import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, TEMPLATE_CODE, FakeSmsGateway

NOW = datetime(2026, 7, 25, 8, 0, tzinfo=timezone.utc)


def a_ticket(**overrides) -> Ticket:
    fields = dict(number="20260725000042", status=TicketStatus.REPLIED, channel="voice", summary="停水两天", reason="asked_for_human",
                  transcript=[], request_type="求助", urgency="一般", due_at=NOW, region="江苏省/南京市", caller="13812345678",
                  conversation_id=None, category_code=None, category_name=None, category_score=None, category_source=None,
                  candidates=[], asr_confidence=None, details=None, seat="seat", reply="已联系水务集团，今晚恢复供水。",
                  created_at=NOW, updated_at=NOW, claimed_at=NOW, replied_at=NOW, closed_at=None)
    return Ticket(**(fields | overrides))


def texting(fake: FakeSmsGateway, *, secret: str = ACCESS_KEY_SECRET, wording: SmsWording | None = None,
            template: str = TEMPLATE_CODE, http: httpx.AsyncClient | None = None, channel: str = "voice") -> SmsReplyDelivery:
    """The delivery of api/sms, talking to `fake` in process (its ASGI app: no socket)."""
    http = http or httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))
    gateway = AliyunSms("http://sms.fake", ACCESS_KEY_ID, secret, SIGN_NAME, http)
    return SmsReplyDelivery(gateway, template, wording or SmsWording.load(), channel)


def deliver(delivery: SmsReplyDelivery, ticket: Ticket) -> bool:
    return asyncio.run(delivery.deliver(ticket, f"【工单{ticket.number}回复】{ticket.reply}"))


# ---- the provider's protocol ------------------------------------------------------------------------------
def test_the_signature_is_the_one_in_alibaba_clouds_sms_documentation():
    # The worked example of the SMS service's "HTTP协议及签名" (help.aliyun.com/document_detail/56189), a GET.
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
              "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
              "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
              "Version": "2017-05-25"}
    assert rpc_signature(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_a_reply_to_a_phone_ticket_texts_its_number_and_state_from_the_approved_template():
    fake = FakeSmsGateway()
    assert deliver(texting(fake), a_ticket()) is True
    [(phone, text)] = fake.sent
    assert phone == "13812345678"
    assert text.startswith("【12345热线】您的12345工单20260725000042已有答复")


def test_the_number_travels_in_the_signed_form_body_never_in_the_url():
    fake = FakeSmsGateway()
    deliver(texting(fake), a_ticket())
    [(method, query, body)] = fake.raw
    assert method == "POST" and query == "" and b"13812345678" in body


def test_a_request_signed_with_another_secret_is_refused_and_nothing_is_sent():
    fake = FakeSmsGateway()
    assert deliver(texting(fake, secret="not-the-secret"), a_ticket()) is False
    assert fake.sent == []


def test_two_replies_use_two_nonces_so_the_gateway_takes_both():
    fake = FakeSmsGateway()
    delivery = texting(fake)
    assert deliver(delivery, a_ticket()) and deliver(delivery, a_ticket(number="20260725000043"))
    assert len(fake.sent) == 2


# ---- who gets one -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("caller", ["13812345678", "+8613812345678", "008613812345678", "8613812345678",
                                    "013812345678", "138-1234-5678", "138 1234 5678", "１３８１２３４５６７８"])
def test_a_mobile_caller_id_in_any_usual_form_is_texted_on_its_eleven_digits(caller):
    assert mobile_number(caller) == "13812345678"


@pytest.mark.parametrize("caller", ["025-83451234", "02583451234", "12345", "10086", "12812345678", "oWx-citizen-0001", "", None])
def test_a_landline_a_service_number_or_an_openid_is_no_mobile(caller):
    assert mobile_number(caller) is None


def test_a_landline_caller_gets_no_sms_and_the_gateway_is_not_asked():
    fake = FakeSmsGateway()
    assert deliver(texting(fake), a_ticket(caller="025-83451234")) is False
    assert fake.requests == []


def test_a_landline_caller_who_left_a_mobile_while_their_complaint_was_taken_down_is_texted_on_it():
    fake = FakeSmsGateway()
    assert deliver(texting(fake), a_ticket(caller="025-83451234", details={"contact": "139 0000 2222"})) is True
    assert fake.sent[0][0] == "13900002222"


# ---- what it says -----------------------------------------------------------------------------------------
def reply_wording(tmp_path) -> SmsWording:
    path = tmp_path / "sms.yaml"
    path.write_text('variables: {number: "{number}", reply: "{reply}"}\nstates: {replied: 已有答复}\n'
                    "reply_max_chars: 20\nlong_reply: 答复较长，请在小程序查看\n", encoding="utf-8")
    return SmsWording.load(path)


def test_a_short_reply_is_texted_as_the_seat_wrote_it(tmp_path):
    fake = FakeSmsGateway(templates={"SMS_2": "工单${number}：${reply}"})
    assert deliver(texting(fake, wording=reply_wording(tmp_path), template="SMS_2"), a_ticket(reply="明早九点前恢复供水")) is True
    assert fake.sent[0][1] == "【12345热线】工单20260725000042：明早九点前恢复供水"


def test_a_long_reply_is_never_texted_whole(tmp_path):
    fake = FakeSmsGateway(templates={"SMS_2": "工单${number}：${reply}"})
    long = "经核实，您反映的小区停水问题系主管道破裂所致，水务集团已安排抢修，预计明日上午九点前恢复供水，请提前储水。"
    assert deliver(texting(fake, wording=reply_wording(tmp_path), template="SMS_2"), a_ticket(reply=long)) is True
    assert fake.sent[0][1] == "【12345热线】工单20260725000042：答复较长，请在小程序查看"


def test_wording_whose_variable_can_outgrow_the_providers_35_characters_stops_loading(tmp_path):
    path = tmp_path / "sms.yaml"
    path.write_text('variables: {reply: "{reply}"}\nstates: {}\nreply_max_chars: 60\nlong_reply: 请查看\n', encoding="utf-8")
    with pytest.raises(SmsWordingError, match="sms.yaml"):
        SmsWording.load(path)


# ---- when it cannot be sent ---------------------------------------------------------------------------------
def test_a_gateway_refusal_means_a_call_back_and_the_log_masks_the_number(caplog):
    fake = FakeSmsGateway()
    fake.fail_next("isv.BUSINESS_LIMIT_CONTROL")
    with caplog.at_level(logging.INFO, logger="api.sms"):
        assert deliver(texting(fake), a_ticket()) is False
    assert "isv.BUSINESS_LIMIT_CONTROL" in caplog.text and "138****5678" in caplog.text
    assert "13812345678" not in caplog.text


def test_a_gateway_that_does_not_answer_in_time_means_a_call_back(fake_sms, caplog):
    fake_sms.stall_next(3)
    gateway = AliyunSms(fake_sms.base_url, ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, httpx.AsyncClient(), timeout_seconds=0.3)
    delivery = SmsReplyDelivery(gateway, TEMPLATE_CODE, SmsWording.load(), "voice")
    with caplog.at_level(logging.WARNING, logger="api.sms"):
        assert deliver(delivery, a_ticket(caller="13700001111")) is False
    assert "137****1111" in caplog.text and "13700001111" not in caplog.text


def test_an_unreachable_gateway_means_a_call_back():
    def unreachable(request):
        raise httpx.ConnectError("connection refused", request=request)

    fake = FakeSmsGateway()
    assert deliver(texting(fake, http=httpx.AsyncClient(transport=httpx.MockTransport(unreachable))), a_ticket()) is False


# ---- in the desk: a channel's deliveries tried in order (desk/flows.py) -------------------------------------
def test_a_channels_ways_are_tried_in_order_until_one_reaches_the_citizen(db):
    from desk.flows import Deliveries, reply_to_citizen
    from desk.tickets import TicketDesk, TicketDraft

    class Unreachable:
        channel = "chat"

        async def deliver(self, ticket, text):
            return False

    fake = FakeSmsGateway()
    desk = TicketDesk(db)
    number = desk.open(TicketDraft(channel="chat", summary="停电", reason="asked_for_human", transcript=[], request_type="求助",
                                   urgency="一般", dispatch_hours=24, caller="13900002222")).number
    desk.claim(number, "seat")
    sms = texting(fake, channel="chat")
    replied = asyncio.run(reply_to_citizen(desk, Deliveries.load(Unreachable(), sms), number, "seat", "已联系供电公司"))
    assert replied.delivered == "sms" and fake.sent[0][0] == "13900002222"


# ---- through the seats' API, in process --------------------------------------------------------------------
def claimed_ticket(inprocess, **draft) -> str:
    from desk.tickets import TicketDraft

    fields = dict(channel="voice", summary="停水两天了", reason="asked_for_human", transcript=[], request_type="求助",
                  urgency="一般", dispatch_hours=24, region="江苏省/南京市")
    number = inprocess.services.desk.open(TicketDraft(**(fields | draft))).number
    inprocess.client.post(f"/v1/tickets/{number}/claim", json={}, headers=inprocess.headers("seat")).raise_for_status()
    return number


def test_a_seats_reply_to_a_phone_ticket_reaches_the_caller_by_sms(inprocess, fake_sms):
    number = claimed_ticket(inprocess, caller="+8613912340001")
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已联系水务集团，今晚恢复供水。"},
                                    headers=inprocess.headers("seat")).json()
    assert replied["status"] == "replied" and replied["delivered"] == "sms"
    assert [text for phone, text in fake_sms.sent if phone == "13912340001"] == [
        f"【12345热线】您的12345工单{number}已有答复，可在12345小程序「我的工单」用本机号码查看答复，或等候工作人员回电。"]


def test_a_seats_reply_to_a_landline_caller_is_left_for_a_call_back(inprocess, fake_sms):
    number = claimed_ticket(inprocess, caller="025-83450002")
    replied = inprocess.client.post(f"/v1/tickets/{number}/reply", json={"text": "已处理"}, headers=inprocess.headers("seat")).json()
    assert replied["status"] == "replied" and replied["delivered"] is None
