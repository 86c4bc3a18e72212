"""Checks and demo-data generators for the national codes carried in regulation records."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from operator import getitem
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a code is not valid; ``warning`` when it may still be accepted (legacy USCC)."""

    reason: str
    warning: bool = False


Check = Callable[[str], Finding | None]
"""A code check: ``None`` means valid."""

# GB 32100-2015 drops I, O, Z, S and V so that they cannot be misread as 1, 0, 2, 5 and U.
_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_CHARS: Final = frozenset(_USCC_ALPHABET)
_USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
# Per position, character -> value x weight: one C-level map per code at ingest speed.
_USCC_WEIGHED: Final = tuple({c: v * w for c, v in _USCC_VALUE.items()} for w in _USCC_WEIGHTS)
_USCC_EXCLUDED: Final = frozenset("IOZSV")

# GB 11714 organisation codes use the full 0-9A-Z alphabet, A = 10 ... Z = 35.
_ORG_VALUE: Final = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)

# ISO 7064 MOD 11-2: weight of position i (1-based) is 2^(18-i) mod 11.
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_WEIGHED: Final = tuple({str(d): d * w for d in range(10)} for w in _ID_WEIGHTS)
_ID_CHECK: Final = "10X98765432"
_ID_MIN_BIRTH: Final = date(1900, 1, 1)

# GB/T 2260 province-level prefixes (71 Taiwan, 81 Hong Kong, 82 Macao included).
_PROVINCES: Final = frozenset(
    f"{p:02d}"
    for p in (
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    )
)
_INDUSTRY_SECTIONS: Final = frozenset("ABCDEFGHIJKLMNOPQRST")
_MOBILE_SECOND: Final = frozenset("3456789")
_ITEM_TYPES: Final = frozenset("12345")


def _is_digits(text: str) -> bool:
    # str.isdigit alone accepts non-ASCII digits such as '²' or '٣'.
    return text.isascii() and text.isdigit()


def _non_digit(code: str, start: int = 0) -> Finding | None:
    """Name the first character from ``start`` on that is not an ASCII digit."""
    if _is_digits(code[start:]):
        return None
    for i in range(start, len(code)):
        if not _is_digits(code[i]):
            return Finding(f"character {code[i]!r} at position {i + 1} is not a digit")
    return None  # only reached for an empty tail


def _parse_date(text: str) -> date | None:
    """Read eight ASCII digits YYYYMMDD as a date, or ``None`` when no such day exists."""
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _uscc_char_reason(ch: str, position: int) -> str:
    if ch in _USCC_EXCLUDED:
        hint = "no I, O, Z, S, V"
    elif ch.upper() in _USCC_CHARS:
        hint = "uppercase only"
    else:
        hint = "only digits and uppercase letters except I, O, Z, S, V"
    return f"character {ch!r} at position {position} is not allowed ({hint})"


def _uscc_format(code: str) -> str | None:
    """Say what is wrong with the shape of a USCC, ignoring its check character's value."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    if not _USCC_CHARS.issuperset(code):
        for i, ch in enumerate(code):
            if ch not in _USCC_CHARS:
                return _uscc_char_reason(ch, i + 1)
    # Positions 1 and 2 are only alphabet characters: authorities keep adding letter codes
    # (A, N, Y ...). The division is not checked against provinces: central organs use 100000.
    if not _is_digits(code[2:8]):
        for i in range(2, 8):
            if not _is_digits(code[i]):
                return (
                    f"character {code[i]!r} at position {i + 1} is not allowed "
                    "(positions 3-8 are the division code, digits only)"
                )
    return None


def _uscc_check_char(first17: str) -> str:
    # map/mul runs in C: ingest checks several codes per record at tens of thousands a second
    total = sum(map(getitem, _USCC_WEIGHED, first17))
    return _USCC_ALPHABET[-total % 31]


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a USCC."""
    if len(first17) != 17 or not _USCC_CHARS.issuperset(first17):
        raise ValueError(f"need 17 USCC alphabet characters, got {first17!r}")
    return _uscc_check_char(first17)


def check_uscc(code: str, *, legacy: Literal["reject", "warn"] = "reject") -> Finding | None:
    """Check a unified social credit code (GB 32100-2015)."""
    reason = _uscc_format(code)
    if reason is not None:
        return Finding(reason)
    expected = _uscc_check_char(code[:17])
    if code[17] != expected:
        # Some codes issued in pilot regions before the standard settled fail the checksum
        # yet are legally valid, so the caller may choose to accept them with a warning.
        return Finding(
            f"check character should be {expected!r}, not {code[17]!r}",
            warning=legacy == "warn",
        )
    return None


def org_check_char(first8: str) -> str:
    """Return the GB 11714 organisation-code check character for eight 0-9A-Z characters."""
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def _division_reason(code: str) -> str | None:
    """Say what is wrong with a division code already known to be six ASCII digits."""
    if code[:2] not in _PROVINCES:
        return f"division code {code!r} has unknown province prefix {code[:2]!r}"
    return None


def _id_check_char(first17: str) -> str:
    total = sum(map(getitem, _ID_WEIGHED, first17))
    return _ID_CHECK[total % 11]


def id_check_char(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError(f"need 17 digits, got {first17!r}")
    return _id_check_char(first17)


def check_id_number(code: str, *, today: date | None = None) -> Finding | None:
    """Check a citizen identity number (GB 11643-1999); ``today`` bounds the birth date."""
    if len(code) != 18:
        return Finding(f"must be 18 characters, got {len(code)}")
    if not _is_digits(code[:17]):
        for i in range(17):
            if not _is_digits(code[i]):
                return Finding(
                    f"character {code[i]!r} at position {i + 1} is not allowed "
                    "(positions 1-17 are digits)"
                )
    last = code[17]
    if last != "X" and not _is_digits(last):
        return Finding(f"check character {last!r} is not allowed (0-9 or uppercase X)")
    reason = _division_reason(code[:6])
    if reason is not None:
        return Finding(reason)
    birth = _parse_date(code[6:14])
    if birth is None:
        return Finding(f"birth date {code[6:14]!r} is not a real date")
    if birth < _ID_MIN_BIRTH:
        return Finding(f"birth date {birth.isoformat()} is before 1900-01-01")
    limit = date.today() if today is None else today
    if birth > limit:
        return Finding(f"birth date {birth.isoformat()} is after today ({limit.isoformat()})")
    expected = _id_check_char(code[:17])
    if last != expected:
        return Finding(f"check character should be {expected!r}, not {last!r}")
    return None


def _fixed_digits(code: str, length: int) -> Finding | None:
    if len(code) != length:
        return Finding(f"must be {length} characters, got {len(code)}")
    return _non_digit(code)


def check_division_code(code: str) -> Finding | None:
    """Check a GB/T 2260 administrative division code (six digits, known province)."""
    finding = _fixed_digits(code, 6)
    if finding is not None:
        return finding
    reason = _division_reason(code)
    return None if reason is None else Finding(reason)


def check_matter_code(code: str) -> Finding | None:
    """Check a 监管事项目录编码 (exactly 14 digits)."""
    return _fixed_digits(code, 14)


def check_item_code(code: str) -> Finding | None:
    """Check a 检查实施清单编码: the organ's USCC, a type digit 1-5, then up to 21 digits."""
    if not 19 <= len(code) <= 40:
        return Finding(f"must be 19 to 40 characters, got {len(code)}")
    # Only the shape of the USCC: legacy organs' codes may fail the checksum.
    reason = _uscc_format(code[:18])
    if reason is not None:
        return Finding(f"first 18 characters are not a well-formed USCC: {reason}")
    if code[18] not in _ITEM_TYPES:
        return Finding(f"type digit at position 19 must be 1-5, got {code[18]!r}")
    return _non_digit(code, 19)


def check_mobile(code: str) -> Finding | None:
    """Check a mainland mobile number without country code (``1[3-9]`` and nine digits)."""
    finding = _fixed_digits(code, 11)
    if finding is not None:
        return finding
    if code[0] != "1":
        return Finding(f"must start with 1, got {code[0]!r}")
    if code[1] not in _MOBILE_SECOND:
        return Finding(f"second digit must be 3-9, got {code[1]!r}")
    return None


def check_batch_code(code: str) -> Finding | None:
    """Check a ``cd_batch`` value: date YYYYMMDD then a five-digit sequence from 00001."""
    finding = _fixed_digits(code, 13)
    if finding is not None:
        return finding
    if _parse_date(code[:8]) is None:
        return Finding(f"date part {code[:8]!r} is not a real date")
    if code[8:] == "00000":
        return Finding("sequence part must be 00001 or more, got '00000'")
    return None


def check_industry_code(code: str) -> Finding | None:
    """Check a GB/T 4754 industry code: a section letter A-T, optionally 2-4 more digits."""
    if len(code) not in (1, 3, 4, 5):
        return Finding(
            "must be a section letter optionally followed by 2-4 digits, "
            f"got {len(code)} characters"
        )
    if code[0] not in _INDUSTRY_SECTIONS:
        return Finding(f"section letter must be A-T, got {code[0]!r}")
    return _non_digit(code, 1)


def checks(
    *,
    uscc_legacy: Literal["reject", "warn"] = "reject",
    today: date | None = None,
    divisions: Check | None = None,
) -> Mapping[str, Check]:
    """Return every code check by name, the USCC check bound to ``uscc_legacy``.

    ``today`` bounds ID numbers' birth dates; a batch passes its receiving day once.
    ``divisions`` checks division codes against an official list
    (``standard.divisions.DivisionList.check``); without it only their shape and province.
    """

    def uscc(code: str) -> Finding | None:
        return check_uscc(code, legacy=uscc_legacy)

    def id_number(code: str) -> Finding | None:
        return check_id_number(code, today=today)

    return {
        "uscc": uscc,
        "id_number": id_number if today is not None else check_id_number,
        "division_code": divisions or check_division_code,
        "matter_code": check_matter_code,
        "item_code": check_item_code,
        "mobile": check_mobile,
        "batch_code": check_batch_code,
        "industry_code": check_industry_code,
    }


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def make_uscc(
    rng: random.Random, *, division: str = "610100", authority: str = "9", category: str = "1"
) -> str:
    """Make a valid USCC whose embedded organisation code also carries a valid check."""
    if len(division) != 6 or not _is_digits(division):
        raise ValueError(f"division must be six digits, got {division!r}")
    for name, value in (("authority", authority), ("category", category)):
        if len(value) != 1 or value not in _USCC_CHARS:
            raise ValueError(f"{name} must be one USCC alphabet character, got {value!r}")
    # The organisation code sits inside the USCC, so its characters must fit both alphabets.
    org = "".join(rng.choice(_USCC_ALPHABET) for _ in range(8))
    first17 = f"{authority}{category}{division}{org}{org_check_char(org)}"
    return first17 + _uscc_check_char(first17)


def make_id_number(rng: random.Random, *, division: str, birth: date, female: bool) -> str:
    """Make a valid ID number; the sequence code is even for women and odd for men."""
    finding = check_division_code(division)
    if finding is not None:
        raise ValueError(f"division {division!r}: {finding.reason}")
    sequence = rng.randrange(1, 500) * 2 - (0 if female else 1)
    first17 = f"{division}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return first17 + _id_check_char(first17)


def make_matter_code(rng: random.Random) -> str:
    """Make a 14-digit 监管事项目录编码."""
    return _digits(rng, 14)


def make_item_code(uscc: str, type_digit: int, sequence: int) -> str:
    """Make a 检查实施清单编码 from the organ's USCC, a type digit 1-5 and a sequence number."""
    if not 1 <= type_digit <= 5:
        raise ValueError(f"type digit must be 1-5, got {type_digit}")
    if sequence < 0:
        raise ValueError(f"sequence must not be negative, got {sequence}")
    code = f"{uscc}{type_digit}{sequence:05d}"
    if len(code) > 40:
        raise ValueError(f"sequence {sequence} makes the code longer than 40 characters")
    return code


def make_mobile(rng: random.Random) -> str:
    """Make a mainland mobile number."""
    return "1" + rng.choice("3456789") + _digits(rng, 9)
