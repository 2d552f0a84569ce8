"""Alibaba Cloud SMS (阿里云短信服务, API version 2017-05-25): the `SendSms` call, RPC style, signed with signature
version 1.0 (HMAC-SHA1). Documents followed: "SendSms - 发送短信" (https://help.aliyun.com/document_detail/55284.html)
for the call, and the SMS service's signature method (https://www.alibabacloud.com/help/en/sms/signature-method,
https://help.aliyun.com/document_detail/56189.html, whose worked example is a test in tests/test_sms.py).

One request is a form POST to the endpoint's `/` (POST, not GET, so that the citizen's number stays out of URLs
and the access logs of any proxy on the way) with
* the common parameters: AccessKeyId, Action=SendSms, Format=JSON, RegionId=cn-hangzhou, SignatureMethod=HMAC-SHA1,
  SignatureNonce (a new UUID each time: the gateway refuses one seen before), SignatureVersion=1.0, Timestamp (UTC,
  `YYYY-MM-DDThh:mm:ssZ`; refused when too far from the gateway's clock), Version=2017-05-25;
* the call's own: PhoneNumbers, SignName (an approved signature), TemplateCode (an approved template) and
  TemplateParam (the template's variables, a JSON object of strings, as a string);
* Signature = Base64(HMAC-SHA1(key = AccessKeySecret + "&", "POST&%2F&" + percent_encode(canonical query))), where the
  canonical query is every other parameter sorted by name, name and value percent-encoded (RFC 3986: unreserved
  A-Z a-z 0-9 - _ . ~ kept, a space as %20, everything else as %XY of its UTF-8 bytes), joined with = and &.

The gateway answers JSON: {"Code": "OK", "Message": "OK", "BizId", "RequestId"} once it has taken the message; a
business refusal (isv.MOBILE_NUMBER_ILLEGAL, isv.BUSINESS_LIMIT_CONTROL, isv.PARAM_LENGTH_LIMIT, …) comes with HTTP
200 and another Code, a refused request (SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, …) with an HTTP 4xx and
the same shape. SendSms is not idempotent (a retry after a timeout may text the citizen twice), so nothing is retried.

The official SDK (alibabacloud-dysmsapi20170525) is not used: it brings its own HTTP runtime beside the worker's
httpx client, for what is one signed form POST.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

ALIYUN_SMS_ENDPOINT = "https://dysmsapi.aliyuncs.com"
API_VERSION = "2017-05-25"
ACCEPTED = "OK"


class SmsError(Exception):
    """The message was not sent."""


class SmsRefused(SmsError):
    """The gateway answered and did not take the message (its Code says why)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"SMS gateway refused the message: {code} {message}".strip())
        self.code = code


class SmsUnavailable(SmsError):
    """The gateway could not be reached, did not answer in time, or answered something that is not its protocol."""


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as Alibaba Cloud signs it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    """Every parameter but Signature, sorted by name, name and value percent-encoded, joined with = and &."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature")


def rpc_signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """Signature version 1.0 of an RPC request: Base64(HMAC-SHA1(secret + "&", METHOD&%2F&encoded canonical query))."""
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(f"{secret}&".encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _timestamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunSms:
    """Sends templated SMS through one Alibaba Cloud account (an AccessKey pair) under one approved signature."""

    def __init__(self, base_url: str, access_key_id: str, access_key_secret: str, sign_name: str, http: httpx.AsyncClient,
                 *, region: str = "cn-hangzhou", timeout_seconds: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 nonce: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self._http = http
        self._region = region
        self._timeout = timeout_seconds
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:  # never the secret
        return f"AliyunSms(base_url={self.base_url!r}, access_key_id={self.access_key_id!r}, sign_name={self.sign_name!r})"

    def signed(self, phone: str, template_code: str, variables: Mapping[str, str]) -> dict[str, str]:
        """The form of one SendSms request, signed."""
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": self._nonce(), "SignatureVersion": "1.0",
            "Timestamp": _timestamp(self._clock()), "Version": API_VERSION,
            "PhoneNumbers": phone, "SignName": self.sign_name, "TemplateCode": template_code,
            "TemplateParam": json.dumps(dict(variables), ensure_ascii=False, separators=(",", ":")),
        }
        return {**params, "Signature": rpc_signature(params, self._secret)}

    async def send(self, phone: str, template_code: str, variables: Mapping[str, str]) -> str:
        """Texts `phone` the template `template_code` filled with `variables`; the gateway's BizId (its receipt).
        Raises SmsRefused when the gateway does not take it, SmsUnavailable when it cannot be asked."""
        form = self.signed(phone, template_code, variables)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in form.items())
        try:
            response = await self._http.post(self.base_url + "/", content=body.encode("ascii"), timeout=self._timeout,
                                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TransportError as error:  # timeouts included
            raise SmsUnavailable(f"the SMS gateway did not answer: {type(error).__name__}") from None
        return _receipt(response)


def _receipt(response: httpx.Response) -> str:
    """The BizId of an accepted message; raises for anything else."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("Code"), str):
        raise SmsUnavailable(f"the SMS gateway answered HTTP {response.status_code} without a Code")
    if answer["Code"] != ACCEPTED or response.status_code != 200:
        raise SmsRefused(answer["Code"], str(answer.get("Message", "")))
    return str(answer.get("BizId", ""))
