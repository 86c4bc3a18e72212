"""Staff passwords: the 等保 2.0 level-3 policy, argon2id hashes, expiry and generation."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from standard.errors import InputError

# Classes are ASCII letters and digits; every other character (punctuation, spaces, Chinese)
# counts as a symbol, the "特殊字符" of the standard.
LOWER = frozenset(string.ascii_lowercase)
UPPER = frozenset(string.ascii_uppercase)
DIGIT = frozenset(string.digits)

# Generated passwords avoid quotes, backslashes and spaces: they are pasted into shells, .env
# files and demo READMEs.
_GENERATED_SYMBOLS = "!#$%&*+-=?@^_~"
_GENERATED_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
_GENERATED_ALPHABET = "".join(_GENERATED_CLASSES) + _GENERATED_SYMBOLS
_GENERATED_MIN_LENGTH = 16

# Default parameters (argon2id, 64 MiB, t=3, p=4): RFC 9106's second recommendation.
_hasher = PasswordHasher()


class PasswordRejected(InputError):
    """A new password breaks one or more rules of the policy; ``problems`` lists them all."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        self.problems = problems
        super().__init__("密码不符合要求 / password rejected: " + "; ".join(problems))


@dataclass(frozen=True)
class PasswordPolicy:
    """Complexity and periodic-change rules for staff passwords (等保 2.0 level 3)."""

    min_length: int = 12
    classes_required: int = 3  # of lower, upper, digit, symbol
    max_age_days: int = 90

    def __post_init__(self) -> None:
        if not 1 <= self.classes_required <= 4:
            raise ValueError("classes_required must be between 1 and 4")
        if self.min_length < self.classes_required:
            raise ValueError("min_length must be at least classes_required")
        if self.max_age_days < 1:
            raise ValueError("max_age_days must be at least 1")


def character_classes(password: str) -> int:
    """How many of the four classes (lower, upper, digit, symbol) a password uses."""
    chars = set(password)
    return (
        bool(chars & LOWER)
        + bool(chars & UPPER)
        + bool(chars & DIGIT)
        + bool(chars - LOWER - UPPER - DIGIT)
    )


def check_password(
    policy: PasswordPolicy, password: str, *, username: str, current_hash: str | None = None
) -> None:
    """Raise PasswordRejected naming every rule a proposed new password breaks."""
    problems: list[str] = []
    if len(password) < policy.min_length:
        problems.append(
            f"密码至少 {policy.min_length} 个字符 / at least {policy.min_length} characters"
        )
    if character_classes(password) < policy.classes_required:
        problems.append(
            f"密码须包含小写字母、大写字母、数字、符号中的至少 {policy.classes_required} 类"
            f" / at least {policy.classes_required} of: lowercase, uppercase, digits, symbols"
        )
    # An empty username is contained in every string; there is nothing to compare against.
    if username.strip() and username.strip().casefold() in password.casefold():
        problems.append("密码不得包含用户名 / must not contain the username")
    if current_hash is not None and verify_password(current_hash, password):
        problems.append("新密码不得与当前密码相同 / must differ from the current password")
    if problems:
        raise PasswordRejected(tuple(problems))


def hash_password(password: str) -> str:
    """An argon2id hash of a password, in the PHC string format, for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether a password matches a stored hash; False for a malformed hash, never raising."""
    try:
        return _hasher.verify(stored_hash, password)
    # UnicodeError: argon2 encodes the hash as ASCII and the password as UTF-8 before checking;
    # a hash that is not ASCII is malformed, a password with lone surrogates was never hashed.
    except (VerificationError, InvalidHashError, UnicodeError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash that just verified should be replaced (parameters changed since)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def password_expired(policy: PasswordPolicy, changed_at: datetime, now: datetime) -> bool:
    """Whether a password changed at ``changed_at`` must be changed before use at ``now``."""
    # A password is valid for max_age_days: at exactly that age it has expired.
    return now - changed_at >= timedelta(days=policy.max_age_days)


def generate_password(policy: PasswordPolicy, *, username: str = "") -> str:
    """A random password that passes the policy, for bootstrap and demo accounts."""
    length = max(policy.min_length, _GENERATED_MIN_LENGTH)
    rng = secrets.SystemRandom()
    while True:
        # One character from each class guarantees any classes_required; the rest is uniform.
        chars = [secrets.choice(group) for group in (*_GENERATED_CLASSES, _GENERATED_SYMBOLS)]
        chars += [secrets.choice(_GENERATED_ALPHABET) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        password = "".join(chars)
        # Only a very short username can turn up by chance; draw again when it does.
        if not username.strip() or username.strip().casefold() not in password.casefold():
            return password
