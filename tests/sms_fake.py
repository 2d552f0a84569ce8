"""A fake Alibaba Cloud SMS gateway for tests: `SendSms` (API version 2017-05-25, RPC style) as the gateway answers it.

It checks what the real gateway checks, for real and with its own code (not api/sms's): the AccessKeyId is known, the
HMAC-SHA1 signature (version 1.0) over the sorted, percent-encoded parameters matches the secret, the nonce is new and
the timestamp recent, then the business rules: an approved signature and template, TemplateParam a JSON object of
strings of at most 35 characters holding every variable of the template, a mainland mobile number. It answers as the
gateway does: {"Code": "OK", "BizId", …}, a business refusal with HTTP 200 and another Code, a refused request with
HTTP 4xx.

    fake = FakeSmsGateway()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app))   # in process, no socket
    with FakeSmsGateway() as fake: …                                          # or a real server on a free local port
    assert fake.sent == [("13812345678", "【12345热线】您的工单…")]

`fake.fail_next(code)` makes the next request answer that Code; `fake.stall_next(seconds)` delays the next answer.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import deque
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from local_server import LocalServer

ACCESS_KEY_ID = "LTAI-fake-0000000001"
ACCESS_KEY_SECRET = "fake-access-key-secret"
SIGN_NAME = "12345热线"
TEMPLATE_CODE = "SMS_460000001"
TEMPLATE_TEXT = "您的12345工单${number}${state}，可在12345小程序「我的工单」用本机号码查看答复，或等候工作人员回电。"
REQUIRED = ("AccessKeyId", "Action", "Format", "PhoneNumbers", "RegionId", "SignName", "Signature", "SignatureMethod",
            "SignatureNonce", "SignatureVersion", "TemplateCode", "Timestamp", "Version")
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
MOBILE = re.compile(r"(?:\+?86|0086)?1[3-9]\d{9}")


def _encode(text: str) -> str:
    """RFC 3986, character by character: unreserved ones as they are, every other byte of UTF-8 as %XY."""
    return "".join(ch if ch in UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode("utf-8")) for ch in text)


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    query = "&".join(f"{_encode(k)}={_encode(params[k])}" for k in sorted(params) if k != "Signature")
    to_sign = f"{method}&{_encode('/')}&{_encode(query)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def _answer(code: str, message: str, status: int = 200, **extra) -> JSONResponse:
    return JSONResponse({"RequestId": secrets.token_hex(8).upper(), "Code": code, "Message": message, **extra},
                        status_code=status)


class FakeSmsGateway:
    """The fake gateway: `app` (ASGI) to call in process, or a context manager that serves it on a local port."""

    def __init__(self, *, access_key_id: str = ACCESS_KEY_ID, secret: str = ACCESS_KEY_SECRET,
                 sign_name: str = SIGN_NAME, templates: dict[str, str] | None = None, max_age_seconds: float = 900) -> None:
        self.access_key_id, self.secret, self.sign_name = access_key_id, secret, sign_name
        self.templates = templates or {TEMPLATE_CODE: TEMPLATE_TEXT}
        self.max_age_seconds = max_age_seconds
        self.sent: list[tuple[str, str]] = []  # (phone number, the text as the citizen reads it)
        self.requests: list[dict[str, str]] = []  # every request's parameters, as received
        self.raw: list[tuple[str, str, bytes]] = []  # (method, query string, body) of every request
        self._nonces: set[str] = set()
        self._failures: deque[str] = deque()
        self._stalls: deque[float] = deque()
        self._lock = threading.Lock()
        self.base_url = ""
        self.app = Starlette(routes=[Route("/", self._rpc, methods=["GET", "POST"])])

    def fail_next(self, code: str) -> None:
        with self._lock:
            self._failures.append(code)

    def stall_next(self, seconds: float) -> None:
        with self._lock:
            self._stalls.append(seconds)

    async def _rpc(self, request: Request):
        body = await request.body()
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST":
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        with self._lock:
            self.raw.append((request.method, request.url.query, body))
            self.requests.append(params)
            stall = self._stalls.popleft() if self._stalls else 0.0
        if stall:
            await asyncio.sleep(stall)
        return self._judge(request.method, params)

    def _judge(self, method: str, p: dict[str, str]) -> JSONResponse:
        missing = [name for name in REQUIRED if not p.get(name)]
        if missing:
            return _answer("MissingParameter", f"The input parameter \"{missing[0]}\" that is mandatory for processing this request is not supplied.", 400)
        if p["Action"] != "SendSms" or p["Version"] != "2017-05-25":
            return _answer("InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404)
        if p["SignatureMethod"] != "HMAC-SHA1" or p["SignatureVersion"] != "1.0":
            return _answer("InvalidSignatureMethod", "Specified signature method is not valid.", 400)
        if p["AccessKeyId"] != self.access_key_id:
            return _answer("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if not hmac.compare_digest(p["Signature"], expected_signature(method, p, self.secret)):
            return _answer("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
        try:
            at = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return _answer("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400)
        if abs(time.time() - at.timestamp()) > self.max_age_seconds:
            return _answer("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        with self._lock:
            if p["SignatureNonce"] in self._nonces:
                return _answer("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            self._nonces.add(p["SignatureNonce"])
            if self._failures:
                return _answer(self._failures.popleft(), "injected failure")
        return self._send(p)

    def _send(self, p: dict[str, str]) -> JSONResponse:
        if p["SignName"] != self.sign_name:
            return _answer("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = self.templates.get(p["TemplateCode"])
        if template is None:
            return _answer("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            variables = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return _answer("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
            return _answer("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if any(len(v) > 35 for v in variables.values()):
            return _answer("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        needed = re.findall(r"\$\{(\w+)\}", template)
        if any(name not in variables for name in needed):
            return _answer("isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
        numbers = p["PhoneNumbers"].split(",")
        if not all(MOBILE.fullmatch(n) for n in numbers):
            return _answer("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        text = f"【{p['SignName']}】" + re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], template)
        with self._lock:
            self.sent.extend((n, text) for n in numbers)
        return _answer("OK", "OK", BizId=f"{secrets.randbelow(10**15):015d}^0")

    # --- running on a local port (the in-process app's settings point at it) ---------------------------
    def __enter__(self) -> "FakeSmsGateway":
        self._local = LocalServer(self.app, "fake SMS gateway")
        self.base_url = self._local.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.stop()
