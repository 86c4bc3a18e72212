"""Masks of personal fields: what stays, what is hidden, whatever the input."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from policies.masking import (
    HIDDEN,
    mask,
    mask_address,
    mask_id_number,
    mask_mobile,
    mask_name,
    mask_row,
)


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("西安市雁塔区小寨东路1号", "西安市雁塔区***"),
        ("西安市蓝田县华胥镇幸福小区3号楼", "西安市蓝田县***"),
        ("陕西省西安市长安区郭杜街道", "陕西省西安市长安区***"),
        ("西安市长安大学家属院幸福小区5号", "西安市***"),
        ("幸福小区5号楼2单元", HIDDEN),
        ("西安市高新区锦业路", "西安市高新区***"),
        ("", HIDDEN),
    ],
)
def test_an_address_keeps_at_most_its_district(address: str, masked: str) -> None:
    assert mask_address(address) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("610113198503020031", "610113***********1"),
        ("P1234567", HIDDEN),  # a passport number
        ("", HIDDEN),
    ],
)
def test_id_numbers(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


def test_a_valid_uscc_is_an_organisation_and_stays_an_invalid_one_is_hidden() -> None:
    from random import Random

    from standard.codes import make_uscc

    code = make_uscc(Random(3), division="610113")
    assert mask_id_number(code) == code
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    assert mask_id_number(wrong) == HIDDEN


@given(st.text(min_size=1, max_size=40))
@example("0区")  # an address that is only a district keeps it: that is the rule, not a leak
def test_no_mask_returns_more_than_a_short_prefix_of_what_it_hides(value: str) -> None:
    for masked in (mask_address(value), mask_name(value), mask_mobile(value)):
        visible = masked.replace("*", "")
        assert len(visible) <= max(12, len(value) // 2 + 1)
        district_only = masked == value + HIDDEN and value[-1] in "区县市"
        assert (
            value not in masked
            or len(value) <= 1
            or masked == value[:1] + "*" * (len(value) - 1)
            or district_only
        )


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_a_mobile_keeps_seven_of_eleven_digits_at_most(value: str) -> None:
    masked = mask(column="complainant_phone", check="mobile", value=value)
    assert masked[:3] == value[:3] and masked[-4:] == value[-4:] and "****" in masked


person_names = st.text(alphabet="丽娟娜伟芳敏静强磊军洋勇艳杰", min_size=1, max_size=3).map(
    lambda given: "杨" + given
)


@given(name=person_names, before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_natural_persons_name_is_masked_also_inside_free_text(
    name: str, before: str, after: str
) -> None:
    """Data standard: a natural person's name (and free text naming them) is personal."""
    facts = f"{before}当事人{name}{after}"
    row = {
        "counterparty_category": "natural_person",
        "counterparty_name": name,
        "case_name": f"{name}无证经营案",
        "facts": facts,
    }
    mask_row("penalty_publicity", row)
    assert row["counterparty_name"] == "杨" + "*" * (len(name) - 1)
    assert row["case_name"] == "杨" + "*" * (len(name) - 1) + "无证经营案"
    assert name not in str(row["facts"]) or name in before + after
    assert str(row["facts"]).count("当事人杨" + "*" * (len(name) - 1)) >= 1


def test_an_organisations_name_stays_and_a_grant_can_show_a_persons() -> None:
    company = {
        "counterparty_category": "legal_person",
        "counterparty_name": "西安市某某有限公司",
        "facts": "经查，当事人西安市某某有限公司存在违法行为",
    }
    mask_row("penalty_publicity", company)
    assert company["counterparty_name"] == "西安市某某有限公司"
    assert company["facts"] == "经查，当事人西安市某某有限公司存在违法行为"
    person = {"applicant_category": "natural_person", "applicant_name": "杨丽娟"}
    mask_row("licences", dict(person))
    shown = dict(person)
    mask_row("licences", shown, clear={"applicant_name"})
    assert shown["applicant_name"] == "杨丽娟"
    hidden = dict(person)
    mask_row("licences", hidden)
    assert hidden["applicant_name"] == "杨**"


def test_without_the_column_that_says_masking_fails_closed() -> None:
    """A row without its nature column is taken for a person's; a text whose name column is
    missing is hidden whole."""
    row = {"counterparty_name": "杨丽娟", "facts": "当事人杨丽娟无证经营"}
    mask_row("actions", row)
    assert row == {"counterparty_name": "杨**", "facts": "当事人杨**无证经营"}
    text_only = {"counterparty_nature": "natural_person", "facts": "当事人杨丽娟无证经营"}
    mask_row("actions", text_only)
    assert text_only["facts"] == HIDDEN
