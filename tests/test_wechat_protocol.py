"""The WeChat customer-service protocol (api/wechat): signatures, crypto, parsing, the send client."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import socket
import struct
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.wechat import (
    CustomerServiceClient,
    ReplyLimitReached,
    ReplyWindow,
    ReplyWindowClosed,
    WeChatApiError,
    WeChatCrypto,
    WeChatCryptoError,
    WeChatMessageError,
    WeChatUnavailable,
    detect_format,
    mask_openid,
    message_signature,
    parse_envelope,
    parse_message,
    timestamp_fresh,
    url_signature,
    verify,
)
from wechat_fake import (
    FakeWeChat,
    event_message_json,
    event_message_xml,
    message_json,
    message_xml,
    secure_envelope,
    signed_query,
    text_message_json,
    text_message_xml,
)

# The EncodingAESKey and appid of Tencent's WXBizMsgCrypt samples.
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APPID = "wxb11529c136998cb6"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


# --- signatures -------------------------------------------------------------------------------
def test_url_signature_is_sha1_of_sorted_parts():
    # sorted: "1409304348" < "pamtest" < "xxxxxx"; value from `printf %s 1409304348pamtestxxxxxx | sha1sum`
    expected = "76480565cbe296026c53aaacd1ad523a1ddba24f"
    assert hashlib.sha1(b"1409304348" + b"pamtest" + b"xxxxxx").hexdigest() == expected
    assert url_signature("pamtest", "1409304348", "xxxxxx") == expected
    assert url_signature("xxxxxx", "pamtest", "1409304348") == expected  # order of arguments is irrelevant


def test_url_signature_hand_computed_value():
    assert url_signature("token", "1", "2") == hashlib.sha1(b"12token").hexdigest()
    assert url_signature("token", "1", "2") == "6d7149e287208afb17c14861c125053fd80c0f86"  # sha1sum of "12token"


def test_message_signature_matches_a_real_wechat_push():
    # A secure-mode push from WeChat, published with the Node port of WXBizMsgCrypt:
    # token "spamtest", timestamp 1409735669, nonce 1320562132 → msg_signature 5d197aaf….
    assert message_signature("spamtest", "1409735669", "1320562132", REAL_ENCRYPT) == (
        "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
    )


def test_verify():
    sig = url_signature("t", "1", "2")
    assert verify(sig, sig)
    assert verify(sig, sig.upper())
    assert not verify(sig, None)
    assert not verify(sig, "")
    assert not verify(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1"))


def test_timestamp_fresh():
    assert timestamp_fresh("1000", now=1100)
    assert not timestamp_fresh("1000", now=1400)
    assert not timestamp_fresh("abc", now=1000)


# --- crypto ------------------------------------------------------------------------------------
# Ciphertexts from the test of Tencent's Java WXBizMsgCrypt sample (random prefix "aaaabbbbccccdddd").
JAVA_SAMPLE_1 = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
JAVA_SAMPLE_2_MSG = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]>"
    "</FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA["
    "eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]>"
    "</Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
JAVA_SAMPLE_2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0G"
    "aUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7"
    "CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+v"
    "BzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4R"
    "scuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57c"
    "ExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)
# A real push (appid wx2c2769f8efd9abc2, same sample key), published with the Node port.
REAL_APPID = "wx2c2769f8efd9abc2"
REAL_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrX"
    "pbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGz"
    "jlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBY"
    "YI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_crypto_matches_wechat_sample_vectors():
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    assert crypto.encrypt("我是中文abcd123".encode(), random16=b"aaaabbbbccccdddd") == JAVA_SAMPLE_1
    assert crypto.decrypt(JAVA_SAMPLE_1).decode() == "我是中文abcd123"
    assert crypto.encrypt(JAVA_SAMPLE_2_MSG.encode(), random16=b"aaaabbbbccccdddd") == JAVA_SAMPLE_2
    assert crypto.decrypt(JAVA_SAMPLE_2).decode() == JAVA_SAMPLE_2_MSG


def test_crypto_decrypts_a_real_wechat_push():
    message = parse_message(WeChatCrypto(SAMPLE_KEY, REAL_APPID).decrypt(REAL_ENCRYPT), "xml")
    assert (message.to_user, message.from_user) == ("gh_10f6c3c3ac5a", "oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    assert (message.msg_type, message.content, message.msg_id) == ("text", "abcdteT", "6054768590064713728")
    assert message.create_time == 1409735668


@pytest.mark.parametrize("size", [0, 1, 11, 12, 27, 28, 29, 100, 1000])
def test_crypto_round_trip_and_padding(size):
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    msg = ("问" * size).encode()[:size]
    encrypted = crypto.encrypt(msg)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == msg
    assert crypto.encrypt(msg) != encrypted  # random prefix


def test_crypto_rejects_another_appid():
    encrypted = WeChatCrypto(SAMPLE_KEY, "wx0000000000000000").encrypt(b"hello")
    with pytest.raises(WeChatCryptoError, match="appid"):
        WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID).decrypt(encrypted)


def _raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(SAMPLE_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def test_crypto_rejects_bad_padding():
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    body = b"r" * 16 + struct.pack(">I", 5) + b"hello" + SAMPLE_APPID.encode()  # 43 bytes: pad 21
    assert len(body) == 43
    assert crypto.decrypt(_raw_encrypt(body + bytes([21]) * 21)) == b"hello"
    for bad in (body + bytes([21]) * 20 + b"\x00", body + bytes([3]) * 20 + b"\x02", body + b"\x00" * 21):
        with pytest.raises(WeChatCryptoError, match="padding"):
            crypto.decrypt(_raw_encrypt(bad))
    with pytest.raises(WeChatCryptoError, match="padding"):  # pad value 33 > 32
        crypto.decrypt(_raw_encrypt(b"x" * 31 + bytes([33]) * 33))


def test_crypto_rejects_bad_length_field():
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    plain = b"r" * 16 + struct.pack(">I", 500) + b"hello" + SAMPLE_APPID.encode()
    with pytest.raises(WeChatCryptoError, match="length"):
        crypto.decrypt(_raw_encrypt(plain + bytes([21]) * 21))


def test_crypto_rejects_truncated_and_malformed_ciphertext():
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    raw = base64.b64decode(crypto.encrypt(b"a message long enough for several blocks" * 3))
    for cut in (raw[:-5], raw[:-16], raw[:-32], raw[:16], b""):
        with pytest.raises(WeChatCryptoError):
            crypto.decrypt(base64.b64encode(cut).decode())
    with pytest.raises(WeChatCryptoError, match="base64"):
        crypto.decrypt("not base64!!")


def test_crypto_rejects_bad_keys():
    with pytest.raises(WeChatCryptoError, match="43"):
        WeChatCrypto(SAMPLE_KEY[:-1], SAMPLE_APPID)
    with pytest.raises(WeChatCryptoError, match="base64"):
        WeChatCrypto(SAMPLE_KEY[:-1] + "!", SAMPLE_APPID)


# --- messages ----------------------------------------------------------------------------------
def test_parse_text_xml():
    body = text_message_xml(OPENID, " 我的医保卡丢了，怎么补办？", create_time=1482048670, msg_id=1234567890123456)
    m = parse_message(body, "xml")
    assert (m.to_user, m.from_user, m.create_time, m.msg_type) == ("gh_fake00000001", OPENID, 1482048670, "text")
    assert m.content == " 我的医保卡丢了，怎么补办？"
    assert m.msg_id == "1234567890123456" == m.dedup_key


def test_parse_wechat_documented_xml_with_whitespace():
    body = (
        "<xml>\n  <ToUserName><![CDATA[toUser]]></ToUserName>\n  <FromUserName><![CDATA[fromUser]]></FromUserName>\n"
        "  <CreateTime>1482048670</CreateTime>\n  <MsgType> <![CDATA[text]]> </MsgType>\n"
        "  <Content><![CDATA[this is a test]]></Content>\n  <MsgId>1234567890123456</MsgId>\n</xml>"
    ).encode()
    m = parse_message(body, "xml")
    assert (m.msg_type, m.content, m.msg_id) == ("text", "this is a test", "1234567890123456")


def test_parse_text_json():
    m = parse_message(text_message_json(OPENID, "你好", create_time=1482048670, msg_id=6054768590064713728), "json")
    assert (m.from_user, m.content, m.msg_id, m.create_time) == (OPENID, "你好", "6054768590064713728", 1482048670)


@pytest.mark.parametrize("build,fmt", [(event_message_xml, "xml"), (event_message_json, "json")])
def test_parse_event(build, fmt):
    m = parse_message(build(OPENID, session_from="sessionFrom", create_time=1482048670), fmt)
    assert (m.msg_type, m.event, m.session_from, m.msg_id, m.content) == (
        "event", "user_enter_tempsession", "sessionFrom", None, None
    )
    assert m.dedup_key == f"{OPENID}:1482048670:user_enter_tempsession"


def test_parse_image_and_miniprogrampage():
    base = {"ToUserName": "gh", "FromUserName": OPENID, "CreateTime": 1, "MsgId": 7}
    img = parse_message(message_json({**base, "MsgType": "image", "PicUrl": "http://p/1", "MediaId": "m1"}), "json")
    assert (img.pic_url, img.media_id, img.content) == ("http://p/1", "m1", None)
    page = {**base, "MsgType": "miniprogrampage", "Title": "办事指南", "AppId": "wxapp", "PagePath": "pages/a",
            "ThumbUrl": "", "ThumbMediaId": "t1"}
    card = parse_message(message_xml(page), "xml")
    assert (card.title, card.app_id, card.page_path, card.thumb_url, card.thumb_media_id) == (
        "办事指南", "wxapp", "pages/a", None, "t1"
    )


def test_doctype_and_entities_are_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        b"<MsgType>text</MsgType><Content>&lol2;</Content></xml>"
    )
    with pytest.raises(WeChatMessageError, match="DOCTYPE"):
        parse_message(bomb, "xml")
    xxe = b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>'
    with pytest.raises(WeChatMessageError, match="DOCTYPE"):
        parse_envelope(xxe, "xml")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_invalid_utf8_is_refused(fmt):
    body = text_message_xml(OPENID, "你好") if fmt == "xml" else text_message_json(OPENID, "你好")
    gbk = body.decode().encode("gbk")
    with pytest.raises(WeChatMessageError, match="UTF-8"):
        parse_message(gbk, fmt)


def test_missing_and_bad_fields_are_named():
    with pytest.raises(WeChatMessageError, match="FromUserName"):
        parse_message(b"<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>", "xml")
    with pytest.raises(WeChatMessageError, match="Content"):
        parse_message(message_json({"ToUserName": "g", "FromUserName": "o", "CreateTime": 1, "MsgType": "text"}), "json")
    with pytest.raises(WeChatMessageError, match="Event"):
        parse_message(message_json({"ToUserName": "g", "FromUserName": "o", "CreateTime": 1, "MsgType": "event"}), "json")
    with pytest.raises(WeChatMessageError, match="CreateTime"):
        parse_message(message_json({"ToUserName": "g", "FromUserName": "o", "CreateTime": "x", "MsgType": "image"}), "json")
    with pytest.raises(WeChatMessageError, match="well-formed"):
        parse_message(b"<xml><ToUserName>", "xml")
    with pytest.raises(WeChatMessageError, match="object"):
        parse_message(b"[1, 2]", "json")


def test_detect_format():
    assert detect_format("application/json; charset=utf-8", b"") == "json"
    assert detect_format("text/xml", b"{") == "xml"
    assert detect_format(None, b"  \n{\"a\": 1}") == "json"
    assert detect_format("text/plain", b"\xef\xbb\xbf<xml/>") == "xml"
    with pytest.raises(WeChatMessageError):
        detect_format(None, b"hello")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_secure_push_end_to_end(fmt):
    """What a route does: check msg_signature, decrypt Encrypt, parse the message inside."""
    crypto = WeChatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    inner = text_message_xml(OPENID, "查询社保") if fmt == "xml" else text_message_json(OPENID, "查询社保")
    query, body = secure_envelope(crypto, "tok", inner, fmt)
    assert query["encrypt_type"] == "aes" and verify(url_signature("tok", query["timestamp"], query["nonce"]), query["signature"])
    to_user, encrypt = parse_envelope(body, detect_format(None, body))
    assert to_user == "gh_fake00000001"
    assert verify(message_signature("tok", query["timestamp"], query["nonce"], encrypt), query["msg_signature"])
    assert not verify(message_signature("other", query["timestamp"], query["nonce"], encrypt), query["msg_signature"])
    assert parse_message(crypto.decrypt(encrypt), fmt).content == "查询社保"


def test_signed_query_for_url_verification():
    q = signed_query("tok", "1700000000", "42", echostr="abc")
    assert q == {"signature": url_signature("tok", "1700000000", "42"), "timestamp": "1700000000", "nonce": "42", "echostr": "abc"}


def test_parse_envelope_requires_encrypt():
    assert parse_envelope(b'{"Encrypt": "abc"}', "json") == (None, "abc")
    with pytest.raises(WeChatMessageError, match="Encrypt"):
        parse_envelope(b"<xml><ToUserName>gh</ToUserName></xml>", "xml")


def test_mask_openid_and_repr():
    assert mask_openid(OPENID) == "oUpF…eS6o"
    assert OPENID not in mask_openid(OPENID)
    assert mask_openid(None) == "-" and OPENID not in repr(parse_message(text_message_json(OPENID, "x"), "json"))


# --- reply window ------------------------------------------------------------------------------
def test_reply_window():
    w = ReplyWindow()
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert w.remaining(None, 0, t0) == 0 and not w.may_reply(None, 0, t0)
    assert w.remaining(t0, 0, t0 + timedelta(hours=1)) == 5
    assert w.remaining(t0, 4, t0 + timedelta(hours=47, minutes=59)) == 1
    assert not w.may_reply(t0, 5, t0 + timedelta(hours=1))
    assert not w.may_reply(t0, 0, t0 + timedelta(hours=48))
    assert w.closes_at(t0) == t0 + timedelta(hours=48)
    assert ReplyWindow(max_replies=2, hours=1).remaining(t0, 0, t0) == 2


# --- the send client against the fake WeChat -------------------------------------------------
@pytest.fixture
def fake():
    with FakeWeChat() as server:
        yield server


def _run(fake: FakeWeChat, scenario, **options):
    async def main():
        async with httpx.AsyncClient(timeout=5) as http:
            options.setdefault("backoff", 0)
            client = CustomerServiceClient(
                options.pop("base_url", fake.base_url), options.pop("appid", fake.appid),
                options.pop("secret", fake.secret), http, **options,
            )
            return await scenario(client)

    return asyncio.run(main())


def test_send_arrives_with_chinese_intact(fake):
    fake.user_message(OPENID)
    _run(fake, lambda c: c.send_text(OPENID, "您好，您的工单已受理 ✅"))
    assert fake.sent == [(OPENID, "您好，您的工单已受理 ✅")]
    assert "您好".encode() in fake.raw_sends[0] and b"\\u" not in fake.raw_sends[0]


def test_token_is_cached_and_shared(fake):
    fake.user_message(OPENID)

    async def scenario(client):
        tokens = await asyncio.gather(*(client.access_token() for _ in range(5)))
        for i in range(3):
            await client.send_text(OPENID, f"第{i}条")
        return tokens

    tokens = _run(fake, scenario)
    assert len(set(tokens)) == 1
    assert fake.token_requests == 1 and len(fake.sent) == 3


def test_token_refreshed_five_minutes_before_expiry(fake):
    now = [1000.0]

    async def scenario(client):
        first = await client.access_token()
        now[0] += 7200 - 301
        assert await client.access_token() == first
        now[0] += 2
        return first, await client.access_token()

    first, second = _run(fake, scenario, clock=lambda: now[0])
    assert first != second and fake.token_requests == 2


def test_expired_token_is_refreshed_once(fake):
    fake.user_message(OPENID)

    async def scenario(client):
        await client.send_text(OPENID, "一")
        fake.expire_tokens()
        await client.send_text(OPENID, "二")

    _run(fake, scenario)
    assert [c for _, c in fake.sent] == ["一", "二"] and fake.token_requests == 2


def test_token_error_after_refresh_is_raised(fake):
    fake.user_message(OPENID)
    fake.fail_next(40001)
    fake.fail_next(40001)
    with pytest.raises(WeChatApiError) as err:
        _run(fake, lambda c: c.send_text(OPENID, "x"))
    assert err.value.errcode == 40001 and fake.token_requests == 2 and fake.send_attempts == 2


def test_window_closed_after_48_hours(fake):
    fake.user_message(OPENID, at=time.time() - 49 * 3600)
    with pytest.raises(ReplyWindowClosed) as err:
        _run(fake, lambda c: c.send_text(OPENID, "迟到的回复"))
    assert err.value.errcode == 45015 and fake.sent == []
    with pytest.raises(ReplyWindowClosed):  # a user who never wrote
        _run(fake, lambda c: c.send_text("o-never-wrote-000000", "x"))


def test_limit_reached_after_five_replies(fake):
    fake.user_message(OPENID)

    async def scenario(client):
        for i in range(5):
            await client.send_text(OPENID, str(i))
        with pytest.raises(ReplyLimitReached) as err:
            await client.send_text(OPENID, "第六条")
        assert err.value.errcode == 45047 and "limit" in err.value.errmsg
        fake.user_message(OPENID)  # the citizen writes again: a fresh allowance
        await client.send_text(OPENID, "again")

    _run(fake, scenario)
    assert len(fake.sent) == 6


def test_system_busy_is_retried(fake):
    fake.user_message(OPENID)
    fake.fail_next(-1)
    fake.fail_next_http(503)
    _run(fake, lambda c: c.send_text(OPENID, "稍后"))
    assert fake.sent == [(OPENID, "稍后")] and fake.send_attempts == 3


def test_system_busy_gives_up_after_retries(fake):
    fake.user_message(OPENID)
    for _ in range(3):
        fake.fail_next(-1)
    with pytest.raises(WeChatUnavailable) as err:
        _run(fake, lambda c: c.send_text(OPENID, "x"))
    assert err.value.errcode == -1 and fake.send_attempts == 3 and fake.sent == []


def test_other_errors_are_not_retried(fake):
    fake.user_message(OPENID)
    fake.fail_next(40003)
    with pytest.raises(WeChatApiError) as err:
        _run(fake, lambda c: c.send_text(OPENID, "x"))
    assert (err.value.errcode, type(err.value)) == (40003, WeChatApiError) and fake.send_attempts == 1


def test_bad_credentials(fake):
    with pytest.raises(WeChatApiError) as err:
        _run(fake, lambda c: c.access_token(), secret="wrong")
    assert err.value.errcode == 40125
    with pytest.raises(WeChatApiError) as err:
        _run(fake, lambda c: c.access_token(), appid="wx-wrong")
    assert err.value.errcode == 40013


def test_unreachable_server_is_retried_then_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(WeChatUnavailable, match="network"):
            _run(FakeWeChat(), lambda c: c.access_token(), base_url=f"http://127.0.0.1:{port}")


def test_logs_do_not_carry_the_openid(fake, caplog):
    caplog.set_level(logging.DEBUG, logger="api.wechat")
    fake.user_message(OPENID)
    fake.fail_next(-1)
    _run(fake, lambda c: c.send_text(OPENID, "x"))
    with pytest.raises(ReplyWindowClosed):
        _run(fake, lambda c: c.send_text(OPENID + "x", "x"))
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("api.wechat"))
    assert mask_openid(OPENID) in text and OPENID not in text
