"""Names, persons and regulated subjects, each derived from its own seed and index.

Faker (zh_CN, seeded) fills pools of names and brand words once; rows then draw from the pools
with a ``random.Random`` keyed by the row, which is deterministic and fifty times faster than
calling Faker per row. Subject ``i`` can be rebuilt at any time from ``(seed, i)``, so tables
that refer to subjects never need the subjects table in memory.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from faker import Faker

from demo import places, texts
from demo.stamp import derive
from standard.codes import make_id_number, make_mobile, uscc_check_char

_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_SPACE: Final = 31**8
_ORG_STEP: Final = 25_214_903_917  # not a multiple of 31, so i -> org code is one-to-one
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)

# Where people were born: mostly Xi'an, the rest elsewhere in Shaanxi or nearby provinces.
_BIRTH_DIVISIONS: Final = (
    *places.DIVISIONS,
    "610402",
    "610302",
    "610502",
    "610602",
    "610702",
    "410102",
    "620102",
    "140105",
    "510104",
)
_BIRTH_WEIGHTS: Final = tuple(itertools.accumulate([10] * len(places.DIVISIONS) + [6] * 9))

SUBJECT_TYPES: Final = (
    ("enterprise", 78),
    ("individual_business", 14),
    ("farmer_cooperative", 3),
    ("institution", 2),
    ("social_organisation", 2),
    ("other", 1),
)
# GB 32100 registration authority and category of each kind of subject.
_USCC_KIND: Final = {
    "enterprise": ("9", "1"),
    "individual_business": ("9", "2"),
    "farmer_cooperative": ("9", "3"),
    "institution": ("1", "2"),
    "social_organisation": ("5", "1"),
    "other": ("9", "1"),
}
STATUSES: Final = (("active", 93), ("cancelled", 4), ("revoked", 2), ("moved", 1))


def _cumulative(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [k for k, _ in pairs], list(itertools.accumulate(w for _, w in pairs))


_TYPES, _TYPE_CUM = _cumulative(SUBJECT_TYPES)
_STATUSES, _STATUS_CUM = _cumulative(STATUSES)
_DIVISIONS, _DIVISION_CUM = _cumulative(tuple(places.DIVISION_WEIGHTS.items()))
_RURAL: Final = tuple(places.CROPS)
# (industry code, trade word or name pattern) by kind of subject
_TRADES: Final = {
    "enterprise": texts.ENTERPRISE_TRADES,
    "individual_business": texts.SHOP_TRADES,
    "farmer_cooperative": (("A0141", ""),),
    "institution": texts.INSTITUTIONS,
    "social_organisation": texts.SOCIAL_ORGANISATIONS,
    "other": texts.ENTERPRISE_TRADES,
}


@dataclass(frozen=True, slots=True)
class Pools:
    """Names and brand words drawn once from a seeded Faker."""

    names: tuple[tuple[str, bool], ...]  # (name, female)
    brands: tuple[str, ...]

    @classmethod
    def build(cls, seed: int) -> Pools:
        """Fill the pools from a Faker seeded for ``seed``."""
        fake = Faker("zh_CN")
        fake.seed_instance(derive(seed, "pools"))
        names = [(fake.name_female(), True) for _ in range(1500)]
        names += [(fake.name_male(), False) for _ in range(1500)]
        prefixes = [fake.company_prefix() for _ in range(400)]
        pairs = [a + b for a in texts.BRAND_CHARS for b in texts.BRAND_CHARS if a != b]
        brands = tuple(dict.fromkeys(prefixes + pairs))
        return cls(tuple(dict.fromkeys(names)), brands)

    def name(self, rng: random.Random) -> tuple[str, bool]:
        """A person's name and whether she is a woman."""
        return self.names[rng.randrange(len(self.names))]

    def brand(self, rng: random.Random) -> str:
        """A brand word for an organisation's name."""
        return self.brands[rng.randrange(len(self.brands))]


@dataclass(frozen=True, slots=True)
class Person:
    """A natural person: complainant, licence holder or counterparty of an act."""

    name: str
    female: bool
    id_number: str
    phone: str
    division: str


def make_person(rng: random.Random, pools: Pools, division: str) -> Person:
    """A person living in ``division``, born between 1955 and 2004."""
    name, female = pools.name(rng)
    birth = date(1955, 1, 1) + timedelta(rng.randrange(18_260))
    born_in = rng.choices(_BIRTH_DIVISIONS, cum_weights=_BIRTH_WEIGHTS)[0]
    id_number = make_id_number(rng, division=born_in, birth=birth, female=female)
    return Person(name, female, id_number, make_mobile(rng), division)


@dataclass(frozen=True, slots=True)
class Subject:
    """A regulated subject, as derived from its index."""

    index: int
    uscc: str
    name: str
    subject_type: str
    representative: str
    division: str
    address: str
    industry_code: str
    registered_on: date
    status: str

    @property
    def category(self) -> str:
        """Its counterparty category in acts, publicity and licences."""
        if self.subject_type == "individual_business":
            return "individual_business"
        return "legal_person"


class Subjects:
    """The ``count`` subjects of one seed, each rebuilt on demand from its index."""

    def __init__(self, seed: int, count: int, pools: Pools) -> None:
        self.seed = seed
        self.count = count
        self.pools = pools
        self._base = derive(seed, "subject") << 32
        self._org_offset = derive(seed, "organisation-codes") % _ORG_SPACE

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> Subject:
        rng = random.Random(self._base | i)
        kind, industry, word = _profile(rng)
        if kind == "farmer_cooperative":
            division = rng.choice(_RURAL)
        else:
            division = rng.choices(_DIVISIONS, cum_weights=_DIVISION_CUM)[0]
        representative = self.pools.name(rng)[0]
        name = self._name(rng, kind, word, division, representative)
        road = rng.choice(places.ROADS[division])
        registered = date(1995, 1, 1) + timedelta(int(rng.random() ** 0.6 * 10_957))
        return Subject(
            index=i,
            uscc=self._uscc(i, division, *_USCC_KIND[kind]),
            name=name,
            subject_type=kind,
            representative=representative,
            division=division,
            address=places.address(division, road, rng.randint(1, 399)),
            industry_code=industry,
            registered_on=registered,
            status=rng.choices(_STATUSES, cum_weights=_STATUS_CUM)[0],
        )

    def section(self, i: int) -> str:
        """The industry section letter of subject ``i``, without building the whole subject."""
        return _profile(random.Random(self._base | i))[1][0]

    def pick(self, rng: random.Random) -> Subject:
        """A subject drawn at random."""
        return self[rng.randrange(self.count)]

    def _uscc(self, i: int, division: str, authority: str, category: str) -> str:
        # make_uscc draws the organisation code at random, and a million random draws would
        # collide; stepping through the code space by the index keeps every subject unique.
        value = (self._org_offset + i * _ORG_STEP) % _ORG_SPACE
        digits = []
        for _ in range(8):
            value, rest = divmod(value, 31)
            digits.append(_USCC_ALPHABET[rest])
        org = "".join(digits)
        total = sum(int(c, 36) * w for c, w in zip(org, _ORG_WEIGHTS, strict=True))
        check = 11 - total % 11
        first17 = f"{authority}{category}{division}{org}" + (
            "X" if check == 10 else "0" if check == 11 else str(check)
        )
        return first17 + uscc_check_char(first17)

    def _name(
        self, rng: random.Random, kind: str, word: str, division: str, representative: str
    ) -> str:
        district = places.DIVISIONS[division]
        brand = self.pools.brand(rng)
        if kind == "individual_business":
            owner = f"{representative[0]}记" if rng.random() < 0.5 else brand
            return f"西安市{district}{owner}{word}"
        if kind == "farmer_cooperative":
            return f"西安市{district}{brand}{rng.choice(places.CROPS[division])}专业合作社"
        if kind == "institution":
            return f"西安市{district}{word.format(n=rng.randint(1, 89))}"
        if kind == "social_organisation":
            trade = rng.choice(texts.ENTERPRISE_TRADES)[1]
            return word.format(trade=trade, district=district, brand=brand)
        name = f"{rng.choice(texts.CITY_PREFIXES)}{brand}{word}{rng.choice(texts.ORG_FORMS)}"
        return f"{name}{district}分公司" if kind == "other" else name


def _profile(rng: random.Random) -> tuple[str, str, str]:
    """A subject's first draws: its kind, industry code and trade word (or name pattern)."""
    kind = rng.choices(_TYPES, cum_weights=_TYPE_CUM)[0]
    industry, word = rng.choice(_TRADES[kind])
    return kind, industry, word
