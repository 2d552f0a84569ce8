"""Passwords: argon2id hashes (PHC strings), never the password itself.

The parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: argon2id, 3 passes, 64 MiB);
a hash made with other parameters is re-made at the next successful sign-in (`needs_rehash`).
"""
from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ground.errors import DomainError, ErrorKind

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing a megabyte of "password" is a denial of service, not a password


class PasswordRejected(DomainError, ValueError):
    """A new password that may not be used; the message says why and what would do."""

    code, kind = "weak_password", ErrorKind.INVALID


def check_password(password: str) -> None:
    """Raises PasswordRejected unless `password` may be set."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordRejected(f"A password needs at least {MIN_LENGTH} characters; a short sentence is easy to remember.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"A password may have at most {MAX_LENGTH} characters.")
    if not password.strip():
        raise PasswordRejected("A password may not be only spaces.")


class Passwords:
    """Hashes and checks passwords with argon2id."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher(type=Type.ID)
        if self.hasher.type is not Type.ID:
            raise ValueError("passwords are hashed with argon2id only")

    def hash(self, password: str) -> str:
        """The PHC string for a new password (checked against the rules first)."""
        check_password(password)
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` is the one `password_hash` was made from (False for a damaged hash, too)."""
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than this hasher's (then hash the password again)."""
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
