"""The shipped official division list and the check against it."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.settings import Settings, SettingsError
from standard.divisions import LISTS, NoDivisionList, official_divisions

SHAANXI = official_divisions("610000")
# Read straight from the shipped file: the reference is the data, not the code that loads it.
RAW = tomllib.loads((LISTS / "610000.toml").read_text(encoding="utf-8"))


def test_the_shaanxi_list_names_its_edition_and_its_divisions() -> None:
    assert SHAANXI.name == "陕西省" and "2023" in SHAANXI.edition
    assert SHAANXI.as_of.isoformat() == "2023-06-30"
    codes = set(SHAANXI.names)
    assert all(len(c) == 6 and c.isdigit() and c.startswith("61") for c in codes)
    # Shaanxi: 10 prefecture-level cities, 107 county-level divisions (NBS 2023 edition)
    cities = {c for c in codes if c.endswith("00") and c != "610000"}
    assert len(cities) == 10 and len(codes - cities - {"610000"}) == 107
    assert SHAANXI.names["610100"] == "西安市" and SHAANXI.names["610113"] == "雁塔区"


@given(code=st.from_regex(r"61[0-9]{4}", fullmatch=True))
def test_a_shaanxi_prefixed_code_passes_only_when_listed(code: str) -> None:
    finding = SHAANXI.check(code)
    if code in RAW["divisions"]:
        assert finding is None
    else:
        assert finding is not None and not finding.warning
        assert "official list" in finding.reason and "2023-06-30" in finding.reason


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("610199", "not in the official list"),
        ("110101", "outside 陕西省"),
        ("61010", "must be 6 characters"),
        ("61O100", "is not a digit"),
    ],
)
def test_codes_outside_the_list_say_why(code: str, says: str) -> None:
    finding = SHAANXI.check(code)
    assert finding is not None and says in finding.reason


def test_a_province_without_a_shipped_list_is_refused_at_start() -> None:
    with pytest.raises(NoDivisionList, match="110000"):
        official_divisions("110000")
    with pytest.raises(SettingsError, match=r"JIANGUAN_PROVINCE_CODE.*110000"):
        Settings.from_env({"JIANGUAN_PROVINCE_CODE": "110000"})
