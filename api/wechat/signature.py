"""Signatures WeChat puts on the requests it pushes to our message URL.

* URL verification (GET) and plaintext-mode pushes carry ``signature``:
  SHA1 of token, timestamp and nonce, sorted as strings and concatenated.
* Secure-mode pushes (``encrypt_type=aes``) also carry ``msg_signature``: the same over four
  strings, the fourth being the ``Encrypt`` field of the body.

WeChat itself does not reject old timestamps; :func:`timestamp_fresh` is there for callers that
want to.
"""
from __future__ import annotations

import hashlib
import hmac


def _sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def url_signature(token: str, timestamp: str, nonce: str) -> str:
    """The ``signature`` query parameter WeChat sends (URL verification and plaintext mode)."""
    return _sha1_sorted(token, timestamp, nonce)


def message_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The ``msg_signature`` query parameter WeChat sends in secure mode."""
    return _sha1_sorted(token, timestamp, nonce, encrypt)


def verify(expected: str, actual: str | None) -> bool:
    """Constant-time comparison of a computed signature with the one received; False if missing."""
    if not actual or not expected:
        return False
    return hmac.compare_digest(expected.lower().encode(), actual.strip().lower().encode())


def timestamp_fresh(timestamp: str, now: float, max_skew: float = 300) -> bool:
    """True when ``timestamp`` (Unix seconds, as WeChat sends it) is within ``max_skew`` s of ``now``."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs(now - ts) <= max_skew
