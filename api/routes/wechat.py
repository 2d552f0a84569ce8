"""The mini-program's customer-service message push (客服消息推送): GET verifies the URL, POST takes a
message. Configure the URL as https://<host>/wechat/push with the token (and EncodingAESKey for
secure mode) set in FRONTDOOR_WECHAT_* settings."""
from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.auth import PUBLIC
from api.errors import ApiError
from api.services import get_services
from api.wechat.channel import ForgedPush, PushQuery, ReplayedPush, StalePush, WeChatChannel
from api.wechat.crypto import WeChatCryptoError

from api.wechat.messages import WeChatMessageError, mask_openid

log = logging.getLogger(__name__)
router = APIRouter(prefix="/wechat", tags=["wechat"], dependencies=[Depends(PUBLIC)])  # WeChat signs its pushes


def _channel(request: Request) -> WeChatChannel:
    channel = get_services(request).wechat
    if channel is None:
        raise ApiError(404, "not_configured", "The WeChat channel is not configured: set FRONTDOOR_WECHAT_TOKEN (and the app's id and secret).")
    return channel


@router.get("/push", response_class=PlainTextResponse, summary="WeChat's URL verification: echoes echostr when signed")
def verify_url(request: Request, signature: str | None = None, timestamp: str | None = None, nonce: str | None = None,
               echostr: str | None = Query(default=None, max_length=200)) -> str:
    try:
        return _channel(request).verify_url(PushQuery(signature, timestamp, nonce), echostr)
    except ForgedPush as error:
        raise _refused(error) from error


@router.post("/push", response_class=PlainTextResponse, summary="A message pushed by WeChat; answered later through the send API")
async def push(request: Request, background: BackgroundTasks, signature: str | None = None, timestamp: str | None = None,
               nonce: str | None = None, encrypt_type: str | None = None, msg_signature: str | None = None) -> str:
    channel = _channel(request)
    body = await request.body()
    query = PushQuery(signature, timestamp, nonce, encrypt_type, msg_signature)
    try:
        message = channel.read(query, body, request.headers.get("content-type"))
        if await run_in_threadpool(channel.accept, query, message) and not _flooding(request, message.from_user):
            background.add_task(channel.respond, message)
    except ForgedPush as error:
        raise _refused(error) from error
    except (WeChatMessageError, WeChatCryptoError) as error:
        raise ApiError(400, "malformed_push", str(error)) from error
    return "success"


def _flooding(request: Request, openid: str) -> bool:
    """A citizen past the rate limit, or blocked: the push is taken ("success", or WeChat retries it) and not
    answered; a blocked citizen's messages are not answered until the block ends."""
    guard = get_services(request).guard
    refusal = guard.check(f"wechat:{openid}") if guard is not None else None
    if refusal is not None:
        log.warning("WeChat user %s refused: %s", mask_openid(openid), refusal.code)
    return refusal is not None


def _refused(error: ForgedPush) -> ApiError:
    code = {StalePush: "stale_push", ReplayedPush: "replayed_push"}.get(type(error), "forged_signature")
    return ApiError(403, code, f"{error}; nothing was done")
