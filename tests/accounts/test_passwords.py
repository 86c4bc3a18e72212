"""Staff password policy, hashing, expiry and generation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.passwords import (
    PasswordPolicy,
    PasswordRejected,
    character_classes,
    check_password,
    generate_password,
    hash_password,
    needs_rehash,
    password_expired,
    verify_password,
)
from standard.errors import InputError

POLICY = PasswordPolicy()
LENGTH = "at least 12 characters"
CLASSES = "at least 3 of"
USERNAME = "must not contain the username"
CURRENT = "must differ from the current password"

# Each argon2 hash or verify costs ~0.1 s by design; a few examples cover the properties.
ARGON2 = settings(max_examples=8, deadline=None)


def problems(password: str, *, username: str = "zhangwei", current: str | None = None) -> set[str]:
    try:
        check_password(POLICY, password, username=username, current_hash=current)
    except PasswordRejected as exc:
        return {rule for rule in (LENGTH, CLASSES, USERNAME, CURRENT) if rule in str(exc)}
    return set()


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Jianguan#2025", set()),  # 13 chars, all four classes
        ("jianguan-2025", set()),  # lower + symbol + digit
        ("JIANGUAN 2025", set()),  # a space is a symbol
        ("监管平台运行正常Ab1x", set()),  # Chinese characters count as symbols
        ("Abc#12345678", set()),  # exactly 12
        ("Abc#1234567", {LENGTH}),  # 11
        ("", {LENGTH, CLASSES}),
        ("abcdefghijklmnop", {CLASSES}),  # one class
        ("abcdefgh12345678", {CLASSES}),  # two classes
        ("jianguan2025x", {CLASSES}),
        ("ABCDEFGH!!!!!!!!", {CLASSES}),
        ("ZhangWei#2025x", {USERNAME}),  # case-insensitive
        ("x-zhangwei-2025X", {USERNAME}),
        ("zhangwei", {LENGTH, CLASSES, USERNAME}),
    ],
)
def test_each_rule(password: str, expected: set[str]) -> None:
    assert problems(password) == expected


def test_the_message_names_every_rule_in_chinese_and_english() -> None:
    with pytest.raises(PasswordRejected) as caught:
        check_password(POLICY, "wang", username="wang")
    message = str(caught.value)
    assert "密码至少 12 个字符 / at least 12 characters" in message
    assert "至少 3 类 / at least 3 of: lowercase, uppercase, digits, symbols" in message
    assert "密码不得包含用户名 / must not contain the username" in message
    assert len(caught.value.problems) == 3
    assert isinstance(caught.value, InputError)  # a caller's mistake, never a bare ValueError


def test_the_current_password_cannot_be_reused() -> None:
    current = hash_password("Jianguan#2025")
    assert problems("Jianguan#2025", current=current) == {CURRENT}
    assert problems("Jianguan#2026", current=current) == set()
    assert problems("Jianguan#2025", current="not a hash") == set()


@pytest.mark.parametrize("username", ["", "  "])
def test_an_empty_username_is_not_contained_in_everything(username: str) -> None:
    assert problems("Jianguan#2025", username=username) == set()


@pytest.mark.parametrize(
    ("policy", "password", "ok"),
    [
        (PasswordPolicy(min_length=8, classes_required=2), "abcdefg1", True),
        (PasswordPolicy(min_length=8, classes_required=4), "abcdEF1!", True),
        (PasswordPolicy(min_length=8, classes_required=4), "abcdEF12", False),
        (PasswordPolicy(min_length=16), "Jianguan#2025", False),
    ],
)
def test_other_policies(policy: PasswordPolicy, password: str, ok: bool) -> None:
    if ok:
        check_password(policy, password, username="li")
    else:
        with pytest.raises(PasswordRejected):
            check_password(policy, password, username="li")


@pytest.mark.parametrize(
    "fields",
    [
        {"classes_required": 0},
        {"classes_required": 5},
        {"min_length": 2, "classes_required": 3},
        {"max_age_days": 0},
    ],
)
def test_an_impossible_policy_is_refused(fields: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PasswordPolicy(**fields)


@pytest.mark.parametrize(
    ("password", "classes"),
    [("", 0), ("abc", 1), ("aB", 2), ("aB3", 3), ("aB3_", 4), ("数据", 1), ("Ü", 1)],
)
def test_character_classes(password: str, classes: int) -> None:
    assert character_classes(password) == classes


policies = st.builds(
    PasswordPolicy,
    min_length=st.integers(4, 64),
    classes_required=st.integers(1, 4),
    max_age_days=st.integers(1, 365),
)


@given(policy=policies, username=st.text(max_size=12))
def test_generated_passwords_always_pass(policy: PasswordPolicy, username: str) -> None:
    password = generate_password(policy, username=username)
    check_password(policy, password, username=username)
    assert len(password) >= max(policy.min_length, 16)


def test_generated_passwords_differ() -> None:
    assert len({generate_password(POLICY) for _ in range(50)}) == 50


@given(policy=policies, data=st.data())
def test_any_short_password_is_rejected(policy: PasswordPolicy, data: st.DataObject) -> None:
    password = data.draw(st.text(max_size=policy.min_length - 1))
    with pytest.raises(PasswordRejected) as caught:
        check_password(policy, password, username="")
    assert f"at least {policy.min_length} characters" in str(caught.value)


@ARGON2
@given(password=st.text())
def test_hash_and_verify_round_trip(password: str) -> None:
    stored = hash_password(password)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, password)
    assert not needs_rehash(stored)


@ARGON2
@given(password=st.text(), other=st.text())
def test_a_different_password_never_verifies(password: str, other: str) -> None:
    if other == password:
        other += "x"
    assert not verify_password(hash_password(password), other)


MALFORMED = [
    "",
    "plain text",
    "$argon2id$",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$",
    "$argon2id$v=19$m=65536,t=3,p=4$!!!$!!!",
    "$2b$12$KIXQJmH6y0h1zq5C1m1bUuQ6hS5Q0oEo0sKqkKQ4bH0Q8j5mJ3Q9e",  # bcrypt
    "$argon2id$v=19$m=65536,t=3,p=4$密码$哈希",  # not ASCII
]


@pytest.mark.parametrize("stored", MALFORMED)
def test_a_malformed_hash_never_verifies_and_never_raises(stored: str) -> None:
    assert not verify_password(stored, "Jianguan#2025")
    assert needs_rehash(stored)


@settings(max_examples=50)
@given(stored=st.text(), password=st.text())
def test_verify_never_raises(stored: str, password: str) -> None:
    assert not verify_password("$argon2id" + stored, password)
    assert not verify_password(stored, password)


def test_a_lone_surrogate_never_verifies() -> None:
    assert not verify_password(hash_password("Jianguan#2025"), "Jianguan#2025\ud800")


def test_a_hash_with_weaker_parameters_needs_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("Jianguan#2025")
    assert verify_password(weak, "Jianguan#2025")
    assert needs_rehash(weak)


CHANGED = datetime(2025, 1, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "expired"),
    [
        (timedelta(0), False),
        (timedelta(days=89, hours=23, minutes=59, seconds=59, microseconds=999_999), False),
        (timedelta(days=90), True),  # valid for 90 days: at exactly 90 days it has expired
        (timedelta(days=90, microseconds=1), True),
        (timedelta(days=400), True),
        (-timedelta(days=1), False),  # a clock behind the change is not an expiry
    ],
)
def test_expiry_at_the_boundary(age: timedelta, expired: bool) -> None:
    assert password_expired(POLICY, CHANGED, CHANGED + age) is expired


def test_expiry_follows_the_policy() -> None:
    policy = PasswordPolicy(max_age_days=30)
    assert not password_expired(policy, CHANGED, CHANGED + timedelta(days=29))
    assert password_expired(policy, CHANGED, CHANGED + timedelta(days=30))
