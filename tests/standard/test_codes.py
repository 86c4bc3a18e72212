"""Tests for the national code checks and the demo-data generators."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standard.codes import (
    Check,
    Finding,
    check_batch_code,
    check_division_code,
    check_id_number,
    check_industry_code,
    check_item_code,
    check_matter_code,
    check_mobile,
    check_uscc,
    checks,
    id_check_char,
    make_id_number,
    make_item_code,
    make_matter_code,
    make_mobile,
    make_uscc,
    org_check_char,
    uscc_check_char,
)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
PROVINCES = [
    *range(11, 16),
    *range(21, 24),
    *range(31, 38),
    *range(41, 47),
    *range(50, 55),
    *range(61, 66),
    71,
    81,
    82,
]
TODAY = date(2025, 6, 30)
LEGACY_USCC = "91350100M0001TGQXM"

seeds = st.integers(min_value=0, max_value=2**64)
divisions = st.builds(
    lambda province, rest: f"{province}{rest:04d}",
    st.sampled_from(PROVINCES),
    st.integers(min_value=0, max_value=9999),
)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
alphabet_chars = st.sampled_from(ALPHABET)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    """A valid USCC over any authority, category and six-digit division."""
    rng = random.Random(draw(seeds))
    division = f"{draw(st.integers(min_value=0, max_value=999_999)):06d}"
    return make_uscc(
        rng, division=division, authority=draw(alphabet_chars), category=draw(alphabet_chars)
    )


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """A valid ID number born between 1900-01-01 and TODAY."""
    rng = random.Random(draw(seeds))
    return make_id_number(
        rng, division=draw(divisions), birth=draw(births), female=draw(st.booleans())
    )


@st.composite
def uscc_shaped(draw: st.DrawFn) -> str:
    """Eighteen alphabet characters with a digit division: well-formed, checksum by chance."""
    head = draw(st.text(ALPHABET, min_size=2, max_size=2))
    division = draw(st.text("0123456789", min_size=6, max_size=6))
    tail = draw(st.text(ALPHABET, min_size=10, max_size=10))
    return head + division + tail


def well_formed_uscc(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in ALPHABET for c in code)
        and all(c in "0123456789" for c in code[2:8])
    )


# --- USCC -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["91110108551385082Q", "91110000600037341L"])
def test_uscc_valid(code: str) -> None:
    assert check_uscc(code) is None
    assert check_uscc(code, legacy="warn") is None


@pytest.mark.parametrize("head", ["N2610100MA6TG1JDX", "Y1100000MA00000X0", "A1100000717800009"])
def test_uscc_accepts_letter_authorities_and_central_division(head: str) -> None:
    assert check_uscc(head + uscc_check_char(head)) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9111010855138508Q", "must be 18 characters, got 17"),
        ("91110108551385082QQ", "must be 18 characters, got 19"),
        ("", "must be 18 characters, got 0"),
        ("9111I108551385082Q", "character 'I' at position 5 is not allowed (no I, O, Z, S, V)"),
        ("91110108551385O82Q", "character 'O' at position 15 is not allowed (no I, O, Z, S, V)"),
        ("91110108551385082q", "character 'q' at position 18 is not allowed (uppercase only)"),
        ("9111-108551385082Q", "character '-' at position 5 is not allowed"),
        ("91110１08551385082Q", "character '１' at position 6 is not allowed"),
        ("911A0108551385082Q", "character 'A' at position 4 is not allowed (positions 3-8"),
        ("91110108551385082X", "check character should be 'Q', not 'X'"),
    ],
)
def test_uscc_invalid(code: str, fragment: str) -> None:
    finding = check_uscc(code)
    assert finding is not None
    assert fragment in finding.reason
    assert finding.warning is False


def test_uscc_legacy_code_warns_only_when_asked() -> None:
    rejected = check_uscc(LEGACY_USCC)
    warned = check_uscc(LEGACY_USCC, legacy="warn")
    assert rejected == Finding("check character should be '1', not 'M'")
    assert warned == Finding("check character should be '1', not 'M'", warning=True)


def test_uscc_format_failure_is_never_a_warning() -> None:
    finding = check_uscc("9111I108551385082Q", legacy="warn")
    assert finding is not None
    assert finding.warning is False


@pytest.mark.parametrize(
    ("first17", "expected"), [("91110108551385082", "Q"), ("91110000600037341", "L")]
)
def test_uscc_check_char(first17: str, expected: str) -> None:
    assert uscc_check_char(first17) == expected


@pytest.mark.parametrize("first17", ["9111010855138508", "9111010855138508I", "911101085513850822"])
def test_uscc_check_char_rejects_bad_input(first17: str) -> None:
    with pytest.raises(ValueError, match="17 USCC alphabet characters"):
        uscc_check_char(first17)


@pytest.mark.parametrize(("first8", "expected"), [("55138508", "2"), ("60003734", "1")])
def test_organisation_check_char(first8: str, expected: str) -> None:
    assert org_check_char(first8) == expected


# --- ID number ------------------------------------------------------------------------------


def test_id_number_valid() -> None:
    assert check_id_number("11010519491231002X") is None
    assert check_id_number("11010519491231002X", today=date(1949, 12, 31)) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("11010519491231002", "must be 18 characters, got 17"),
        ("11010519491231002XX", "must be 18 characters, got 19"),
        ("1101051949123100AX", "character 'A' at position 17 is not allowed (positions 1-17"),
        ("11010519491231002x", "check character 'x' is not allowed (0-9 or uppercase X)"),
        ("11010519491231002Y", "check character 'Y' is not allowed"),
        ("99010519491231002X", "unknown province prefix '99'"),
        ("00010519491231002X", "unknown province prefix '00'"),
        ("11010519490231002X", "birth date '19490231' is not a real date"),
        ("11010519491301002X", "birth date '19491301' is not a real date"),
        ("110105189912310010", "birth date 1899-12-31 is before 1900-01-01"),
        ("110105202507010010", "birth date 2025-07-01 is after today (2025-06-30)"),
        ("110105194912310021", "check character should be 'X', not '1'"),
    ],
)
def test_id_number_invalid(code: str, fragment: str) -> None:
    finding = check_id_number(code, today=TODAY)
    assert finding is not None
    assert fragment in finding.reason
    assert finding.warning is False


def test_id_number_future_birth_uses_today_by_default() -> None:
    tomorrow = date.fromordinal(date.today().toordinal() + 1)
    first17 = f"110105{tomorrow:%Y%m%d}001"
    finding = check_id_number(first17 + id_check_char(first17))
    assert finding is not None
    assert "after today" in finding.reason


def test_id_check_char() -> None:
    assert id_check_char("11010519491231002") == "X"


@pytest.mark.parametrize("first17", ["1101051949123100", "1101051949123100X", "11010519491231002X"])
def test_id_check_char_rejects_bad_input(first17: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_char(first17)


# --- simple codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["610000", "610100", "610113", "110105", "820000", "710000"])
def test_division_code_valid(code: str) -> None:
    assert check_division_code(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("61010", "must be 6 characters, got 5"),
        ("6101000", "must be 6 characters, got 7"),
        ("61A100", "character 'A' at position 3 is not a digit"),
        ("61０100", "character '０' at position 3 is not a digit"),
        ("000000", "unknown province prefix '00'"),
        ("160100", "unknown province prefix '16'"),
        ("720000", "unknown province prefix '72'"),
    ],
)
def test_division_code_invalid(code: str, fragment: str) -> None:
    finding = check_division_code(code)
    assert finding is not None
    assert fragment in finding.reason


@pytest.mark.parametrize("code", ["11610100000001", "00000000000000"])
def test_matter_code_valid(code: str) -> None:
    assert check_matter_code(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("1161010000000", "must be 14 characters, got 13"),
        ("116101000000012", "must be 14 characters, got 15"),
        ("1161010000000A", "character 'A' at position 14 is not a digit"),
        ("116101 0000001", "character ' ' at position 7 is not a digit"),
    ],
)
def test_matter_code_invalid(code: str, fragment: str) -> None:
    finding = check_matter_code(code)
    assert finding is not None
    assert fragment in finding.reason


@pytest.mark.parametrize(
    "code",
    [
        "91110108551385082Q" + "1" + "00001",
        "91110108551385082Q5",
        LEGACY_USCC + "3" + "0" * 21,  # checksum-failing organ, maximum length 40
        "91110108551385082X" + "2" + "00007",  # the USCC checksum is not required here
    ],
)
def test_item_code_valid(code: str) -> None:
    assert check_item_code(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91110108551385082Q", "must be 19 to 40 characters, got 18"),
        (LEGACY_USCC + "3" + "0" * 22, "must be 19 to 40 characters, got 41"),
        ("9111I108551385082Q100001", "not a well-formed USCC: character 'I' at position 5"),
        ("911A0108551385082Q100001", "not a well-formed USCC: character 'A' at position 4"),
        ("91110108551385082Q600001", "type digit at position 19 must be 1-5, got '6'"),
        ("91110108551385082Q000001", "type digit at position 19 must be 1-5, got '0'"),
        ("91110108551385082Q10000A", "character 'A' at position 24 is not a digit"),
    ],
)
def test_item_code_invalid(code: str, fragment: str) -> None:
    finding = check_item_code(code)
    assert finding is not None
    assert fragment in finding.reason


@pytest.mark.parametrize("code", ["13800138000", "19912345678", "16600000000"])
def test_mobile_valid(code: str) -> None:
    assert check_mobile(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("1380013800", "must be 11 characters, got 10"),
        ("+8613800138000", "must be 11 characters, got 14"),
        ("1380013800a", "character 'a' at position 11 is not a digit"),
        ("23800138000", "must start with 1, got '2'"),
        ("12800138000", "second digit must be 3-9, got '2'"),
    ],
)
def test_mobile_invalid(code: str, fragment: str) -> None:
    finding = check_mobile(code)
    assert finding is not None
    assert fragment in finding.reason


@pytest.mark.parametrize("code", ["2019041100002", "2024022999999", "2019041100001"])
def test_batch_code_valid(code: str) -> None:
    assert check_batch_code(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("201904110002", "must be 13 characters, got 12"),
        ("2019-04-1100002", "must be 13 characters, got 15"),
        ("20190411O0002", "character 'O' at position 9 is not a digit"),
        ("2023022900001", "date part '20230229' is not a real date"),
        ("2019130100001", "date part '20191301' is not a real date"),
        ("2019041100000", "sequence part must be 00001 or more, got '00000'"),
    ],
)
def test_batch_code_invalid(code: str, fragment: str) -> None:
    finding = check_batch_code(code)
    assert finding is not None
    assert fragment in finding.reason


@pytest.mark.parametrize("code", ["A", "C", "T", "C13", "C131", "C1310", "A01"])
def test_industry_code_valid(code: str) -> None:
    assert check_industry_code(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "got 0 characters"),
        ("C1", "optionally followed by 2-4 digits, got 2 characters"),
        ("C13101", "got 6 characters"),
        ("U13", "section letter must be A-T, got 'U'"),
        ("c13", "section letter must be A-T, got 'c'"),
        ("13", "got 2 characters"),
        ("C1A", "character 'A' at position 3 is not a digit"),
    ],
)
def test_industry_code_invalid(code: str, fragment: str) -> None:
    finding = check_industry_code(code)
    assert finding is not None
    assert fragment in finding.reason


# --- checks() -------------------------------------------------------------------------------


def test_checks_names() -> None:
    assert set(checks()) == {
        "uscc",
        "id_number",
        "division_code",
        "matter_code",
        "item_code",
        "mobile",
        "batch_code",
        "industry_code",
    }


@pytest.mark.parametrize(
    ("table", "warning"), [(checks(), False), (checks(uscc_legacy="warn"), True)]
)
def test_checks_bind_uscc_legacy(table: Mapping[str, Check], warning: bool) -> None:
    finding = table["uscc"](LEGACY_USCC)
    assert finding is not None
    assert finding.warning is warning
    assert table["uscc"]("91110108551385082Q") is None


# --- generators -----------------------------------------------------------------------------


def test_generators_are_deterministic() -> None:
    def batch(seed: int) -> tuple[str, ...]:
        rng = random.Random(seed)
        return (
            make_uscc(rng),
            make_id_number(rng, division="610113", birth=date(1990, 5, 17), female=True),
            make_matter_code(rng),
            make_mobile(rng),
        )

    assert batch(7) == batch(7)
    assert batch(7) != batch(8)


@given(usccs())
def test_make_uscc_is_valid(code: str) -> None:
    assert check_uscc(code) is None
    # The embedded organisation code carries its own GB 11714 check character.
    assert org_check_char(code[8:16]) == code[16]


@given(seeds, st.sampled_from(["610100", "110000", "100000"]))
def test_make_uscc_keeps_defaults_and_division(seed: int, division: str) -> None:
    code = make_uscc(random.Random(seed), division=division)
    assert code.startswith("91" + division)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"division": "61010"}, "division must be six digits"),
        ({"authority": "I"}, "authority must be one USCC alphabet character"),
        ({"category": "12"}, "category must be one USCC alphabet character"),
    ],
)
def test_make_uscc_rejects_bad_parts(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make_uscc(random.Random(0), **kwargs)


@given(seeds, divisions, births, st.booleans())
def test_make_id_number_is_valid(seed: int, division: str, birth: date, female: bool) -> None:
    code = make_id_number(random.Random(seed), division=division, birth=birth, female=female)
    assert check_id_number(code, today=TODAY) is None
    assert code[:6] == division
    assert code[6:14] == f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"
    assert int(code[14:17]) % 2 == (0 if female else 1)


def test_make_id_number_rejects_bad_division() -> None:
    with pytest.raises(ValueError, match="unknown province prefix"):
        make_id_number(random.Random(0), division="990000", birth=date(1990, 1, 1), female=False)


@given(seeds)
def test_make_matter_code_is_valid(seed: int) -> None:
    assert check_matter_code(make_matter_code(random.Random(seed))) is None


@given(seeds)
def test_make_mobile_is_valid(seed: int) -> None:
    assert check_mobile(make_mobile(random.Random(seed))) is None


@given(
    usccs(),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=10**21 - 1),
)
def test_make_item_code_is_valid(uscc: str, type_digit: int, sequence: int) -> None:
    code = make_item_code(uscc, type_digit, sequence)
    assert check_item_code(code) is None
    assert code.startswith(uscc + str(type_digit))


@pytest.mark.parametrize(
    ("type_digit", "sequence", "fragment"),
    [
        (0, 1, "type digit must be 1-5"),
        (6, 1, "type digit must be 1-5"),
        (1, -1, "must not be negative"),
        (1, 10**21, "longer than 40 characters"),
    ],
)
def test_make_item_code_rejects_bad_parts(type_digit: int, sequence: int, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make_item_code("91110108551385082Q", type_digit, sequence)


def test_make_item_code_pads_sequence() -> None:
    assert make_item_code("91110108551385082Q", 1, 7) == "91110108551385082Q100007"


@given(st.dates(), st.integers(min_value=1, max_value=99999))
def test_batch_code_accepts_every_date_and_sequence(day: date, sequence: int) -> None:
    code = f"{day.year:04d}{day.month:02d}{day.day:02d}{sequence:05d}"
    assert check_batch_code(code) is None


# --- error detection ------------------------------------------------------------------------


@given(usccs(), st.integers(min_value=0, max_value=17), alphabet_chars)
def test_uscc_detects_single_substitution(code: str, position: int, char: str) -> None:
    if code[position] == char:
        char = ALPHABET[(ALPHABET.index(char) + 1) % len(ALPHABET)]
    changed = code[:position] + char + code[position + 1 :]
    assert check_uscc(changed) is not None


# Swapping values a != b at weights w and 3w changes the sum by 2w(a - b) mod 31, never 0 since
# 31 is prime; swapping position 17 with the check character changes it unless the two are equal.
@given(usccs(), st.integers(min_value=0, max_value=16))
def test_uscc_detects_adjacent_transposition(code: str, position: int) -> None:
    first, second = code[position], code[position + 1]
    if first == second:
        return
    swapped = code[:position] + second + first + code[position + 2 :]
    assert check_uscc(swapped) is not None


@given(id_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_id_number_detects_single_substitution(code: str, position: int, char: str) -> None:
    allowed = "0123456789X" if position == 17 else "0123456789"
    if char not in allowed or code[position] == char:
        char = next(c for c in allowed if c != code[position])
    changed = code[:position] + char + code[position + 1 :]
    assert check_id_number(changed, today=TODAY) is not None


# --- robustness -----------------------------------------------------------------------------


@given(st.text())
def test_checks_never_raise(text: str) -> None:
    for table in (checks(), checks(uscc_legacy="warn")):
        for name, check in table.items():
            finding = check(text)
            assert finding is None or isinstance(finding, Finding)
            if finding is not None and name != "uscc":
                assert finding.warning is False
    finding = check_id_number(text, today=TODAY)
    assert finding is None or isinstance(finding, Finding)


@given(st.one_of(st.text(), st.text(ALPHABET, min_size=18, max_size=18), uscc_shaped()))
def test_legacy_warn_only_softens_checksum_failures(code: str) -> None:
    rejected = check_uscc(code)
    warned = check_uscc(code, legacy="warn")
    if rejected is None:
        assert warned is None
        return
    assert warned is not None
    assert rejected.warning is False
    assert warned.reason == rejected.reason
    assert warned.warning is well_formed_uscc(code)
    if warned.warning:
        assert warned.reason.startswith("check character should be")
