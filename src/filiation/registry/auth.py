"""Passwords and tokens: how secrets are made, stored and checked.

Passwords are hashed with Argon2id (argon2-cffi, its recommended parameters); API tokens
and web session tokens are 256-bit random secrets of which only a SHA-256 digest is stored
(a digest suffices for a secret with that much entropy, and is a constant-cost look-up).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from filiation.errors import FieldProblem, RegistryValidationError

_hasher = PasswordHasher()
#: API tokens start with this, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "fil_"
PASSWORD_MIN = 10
PASSWORD_MAX = 1024
#: An Argon2 hash of nothing anyone knows: checked against when the user does not exist, so
#: that a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RegistryValidationError(
            {"password": FieldProblem("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")},
            "user",
        )
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets (CSRF tokens)."""
    return a is not None and b is not None and hmac.compare_digest(a, b)
