"""What a run of digits (or a full-width text) is: an ID number, a mobile, a bank card, or
nobody's number. The rules are stated in ``open_data.pii``, which searches texts with these."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from policies.masking import mask_id_number, mask_mobile
from standard.codes import (
    check_division_code,
    check_id_number,
    check_mobile,
    check_uscc,
    org_check_char,
)

Kind = Literal["id_number", "mobile", "bank_card", "email", "personal_value"]


@dataclass(frozen=True, slots=True)
class Hit:
    """One piece of personal information in a text, with a redacted sample."""

    kind: Kind
    sample: str


# Full-width digits, letters and the signs of numbers and e-mail addresses fold to ASCII, one
# character for one; other full-width signs (，：（）) are common in Chinese and left alone.
_WIDE: Final = "０１２３４５６７８９＠．－＋＿％" + "".join(
    map(chr, (*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)))
)
_FOLD: Final = {ord(c): ord(c) - 0xFEE0 for c in _WIDE} | {0x3000: 0x20}
_HAS_WIDE: Final = re.compile(f"[{_WIDE}\u3000]")


def fold(text: str) -> str:
    """Full-width digits, letters and signs as ASCII (``１３８`` → ``138``)."""
    if text.isascii() or not _HAS_WIDE.search(text):
        return text
    return text.translate(_FOLD)


def luhn(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_uscc(code: str) -> bool:
    """A USCC by all three checks: its own, a real division (or the central 100000), and the
    embedded organisation code's (together 1 in ~340 for an 18-digit card at random)."""
    return (
        check_uscc(code) is None
        and (code[2:8] == "100000" or check_division_code(code[2:8]) is None)
        and org_check_char(code[8:16]) == code[16]
    )


def inside_uscc(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies within a USCC (``31…0R``, ``N2…``, all digits)."""
    return any(is_uscc(text[a : a + 18]) for a in range(max(0, end - 18), start + 1))


def fraction(text: str, start: int) -> bool:
    """Whether the digits at ``start`` follow a digit and a point: a fraction's digits."""
    return start >= 2 and text[start - 1] == "." and "0" <= text[start - 2] <= "9"


def glued(text: str, start: int, end: int) -> bool:
    """Whether a digit run is glued to an ASCII letter (a certificate or licence number)."""
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    return (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())


def _card(digits: str) -> Hit | None:
    issuer = digits[0] in "3456" or digits[:2] == "95" or "2221" <= digits[:4] <= "2720"
    if not (issuer and luhn(digits)):
        return None
    return Hit("bank_card", digits[:4] + "*" * (len(digits) - 8) + digits[-4:])


def _mobile(digits: str) -> Hit | None:
    return Hit("mobile", mask_mobile(digits)) if check_mobile(digits) is None else None


def digit_hit(token: str, today: date | None) -> Hit | None:
    """What a digit run (maybe ending in X) is, if it is personal."""
    if token[-1] in "Xx":
        if len(token) != 18:
            return digit_hit(token[:-1], today) if len(token) > 1 else None
        if check_id_number(token[:17] + "X", today=today) is None:
            return Hit("id_number", mask_id_number(token))
        return None
    size = len(token)
    if size == 11:
        return _mobile(token)
    if (size == 13 and token.startswith("86")) or (size == 15 and token.startswith("0086")):
        return _mobile(token[-11:])  # the country code written without a plus or a space
    if size == 18 and check_id_number(token, today=today) is None:
        return Hit("id_number", mask_id_number(token))
    if 16 <= size <= 19:
        return _card(token)
    return None
