"""Password hashing with argon2id (argon2-cffi's current defaults), rehashed when they change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from callcenter.errors import Refusal

_hasher = PasswordHasher()

MIN_LENGTH = 8
# The deployment's policy (callcenter.audit.policy.apply sets it from ``audit.password``).
POLICY = {"min_length": MIN_LENGTH, "min_classes": 2}


class WeakPassword(Refusal):
    code = 422


def check_strength(password: str) -> None:
    """Refuse passwords that are too short or of too few kinds of character (lower, upper, digit, other)."""
    if len(password) < POLICY["min_length"]:
        raise WeakPassword("password_too_short", n=POLICY["min_length"])
    if password.isdigit() or password.isalpha():
        raise WeakPassword("password_one_kind")
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(not c.isalnum() for c in password)))
    if classes < POLICY["min_classes"]:
        raise WeakPassword("password_classes", n=POLICY["min_classes"])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong password or a malformed hash."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# A hash to verify against when the user does not exist, so timing does not reveal usernames.
DUMMY_HASH = _hasher.hash("not-a-real-password-0")
