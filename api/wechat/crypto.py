"""WeChat's message encryption ("安全模式"), compatible with Tencent's WXBizMsgCrypt samples.

* ``EncodingAESKey`` is 43 base64 characters; ``base64decode(key + "=")`` gives the 32-byte
  AES-256 key, and the IV is the key's first 16 bytes (AES-256-CBC).
* The plaintext is ``16 random bytes + 4-byte big-endian length of msg + msg + appid``,
  PKCS#7-padded to a multiple of 32 bytes (pad value 1..32), and the ciphertext is base64.

Always check ``msg_signature`` (see :mod:`.signature`) before decrypting.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size of 16


class WeChatCryptoError(ValueError):
    """A bad EncodingAESKey, or a ciphertext that does not decrypt to a message for our appid."""


class WeChatCrypto:
    """Encrypts and decrypts the ``Encrypt`` field of WeChat's secure-mode messages."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != 43:
            raise WeChatCryptoError("EncodingAESKey must be exactly 43 characters (base64 of a 32-byte key)")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WeChatCryptoError(f"EncodingAESKey is not valid base64: {exc}") from None
        if len(key) != 32:  # cannot happen for 43 valid characters, kept as a guard
            raise WeChatCryptoError("EncodingAESKey does not decode to 32 bytes")
        if not appid:
            raise WeChatCryptoError("appid must not be empty")
        self._key = key
        self._iv = key[:16]
        self._appid = appid.encode("utf-8")

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    def encrypt(self, msg: bytes, random16: bytes | None = None) -> str:
        """The base64 ``Encrypt`` value for ``msg`` (``random16``: fixed prefix, for tests)."""
        if random16 is None:
            random16 = os.urandom(16)
        if len(random16) != 16:
            raise WeChatCryptoError("random16 must be 16 bytes")
        plain = random16 + struct.pack(">I", len(msg)) + msg + self._appid
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt_b64: str) -> bytes:
        """The message inside an ``Encrypt`` value; WeChatCryptoError unless it is well formed and for our appid."""
        try:
            data = base64.b64decode(encrypt_b64, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise WeChatCryptoError(f"Encrypt is not valid base64: {exc}") from None
        if not data or len(data) % 16:
            raise WeChatCryptoError("ciphertext length is not a positive multiple of 16 bytes (truncated?)")
        dec = self._cipher().decryptor()
        plain = dec.update(data) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("bad padding (wrong EncodingAESKey or corrupted message)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise WeChatCryptoError("decrypted message is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise WeChatCryptoError("message length field exceeds the decrypted data")
        msg, appid = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(appid, self._appid):
            raise WeChatCryptoError("message is for another appid")
        return msg
