"""Row generator of the complaints source: tickets of the 12345 hotline."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Final

from demo import places, texts
from demo.invalid import is_invalid, variant, wrong_id, wrong_uscc
from demo.people import make_person
from demo.stamp import Row, Stamper, derive
from demo.world import World

PROVIDER: Final = "P-12345"
CHANNELS: Final = (
    ("hotline_12345", 75),
    ("website", 6),
    ("app", 7),
    ("wechat", 8),
    ("letter", 1),
    ("visit", 2),
    ("other", 1),
)
TYPES: Final = (("complaint", 55), ("report", 30), ("consultation", 10), ("suggestion", 5))
_TOPIC_CUM: Final = list(itertools.accumulate(t[2] for t in texts.COMPLAINT_TOPICS))
_CHANNELS: Final = [c for c, _ in CHANNELS]
_CHANNEL_CUM: Final = list(itertools.accumulate(w for _, w in CHANNELS))
_TYPES: Final = [t for t, _ in TYPES]
_TYPE_CUM: Final = list(itertools.accumulate(w for _, w in TYPES))
_DIVISIONS: Final = list(places.DIVISION_WEIGHTS)
_DIVISION_CUM: Final = list(itertools.accumulate(places.DIVISION_WEIGHTS.values()))


def complaints(world: World, stamp: Stamper) -> Iterator[Row]:
    """投诉举报: about one ticket per subject, most of them about a subject."""
    rng = random.Random(derive(world.seed, "complaints", "rows"))
    timeline = world.timeline
    for n in range(len(world.subjects)):
        category, handler, _, topics = rng.choices(texts.COMPLAINT_TOPICS, cum_weights=_TOPIC_CUM)[
            0
        ]
        subcategory, issue = rng.choice(topics)
        subject = None
        if rng.random() < 0.85:
            # A few draws find a subject of a fitting trade; if none fits, a place is named.
            for _ in range(4):
                index = rng.randrange(len(world.subjects))
                if world.subjects.section(index) in texts.TOPIC_SECTIONS[category]:
                    subject = world.subjects[index]
                    break
        if subject is not None:
            division, place = subject.division, subject.name
        else:
            division = rng.choices(_DIVISIONS, cum_weights=_DIVISION_CUM)[0]
            place = f"{places.DIVISIONS[division]}{rng.choice(places.ROADS[division])}附近"
        person = make_person(rng, world.pools, division)
        department = world.department(handler)
        bureau = world.district_bureaus.get(division)
        if handler == "XA-SCJG" and bureau is not None and rng.random() < 0.7:
            department = bureau
        produced = timeline.any_time(timeline.day(rng), rng)
        received = timeline.receive(produced, rng)
        matter = None
        if rng.random() < 0.5:
            pool = world.catalogue.leaves[(department.spec.catalogue, "inspection")]
            candidate = pool[rng.randrange(len(pool))]
            matter = candidate.code if candidate.active(produced.date()) else None
        span = (received - produced).total_seconds()
        status, closed_at, result = rng.choice(("received", "dispatched", "handling")), None, None
        if span >= 7200 and rng.random() < 0.8:
            status = "closed"
            closed_at = produced + timedelta(seconds=rng.randint(3600, int(span) - 600))
            result = rng.choice(texts.RESULTS)
        elif rng.random() < 0.05:
            status, result = "rejected", texts.REJECTED
        road = rng.choice(places.ROADS[division])
        flat = f"{rng.randint(1, 30)}0{rng.randint(1, 4)}室"
        home = f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{flat}"
        row: Row = {
            "ticket_no": f"GD{produced:%Y%m%d}{n:07d}",
            "channel": rng.choices(_CHANNELS, cum_weights=_CHANNEL_CUM)[0],
            "complaint_type": rng.choices(_TYPES, cum_weights=_TYPE_CUM)[0],
            "category": category,
            "subcategory": subcategory,
            "title": f"反映{place}{subcategory}问题",
            "content": f"诉求人反映：{place}{issue}，{rng.choice(texts.DEMANDS)}。",
            "subject_uscc": subject.uscc if subject else None,
            "subject_name": subject.name if subject else None,
            "complainant_name": person.name if rng.random() < 0.9 else None,
            "complainant_phone": person.phone,
            "complainant_id_number": person.id_number if rng.random() < 0.7 else None,
            "complainant_address": places.address(division, road, rng.randint(1, 399)) + home,
            "division_code": division,
            "handling_department_code": department.code,
            "matter_code": matter,
            "due_at": produced + timedelta(days=15),
            "status": status,
            "result": result,
            "closed_at": closed_at,
        }
        if is_invalid(n):
            if variant(n, 2) == 0 or subject is None:
                row["complainant_id_number"] = wrong_id(person.id_number)
            else:
                row["subject_uscc"] = wrong_uscc(subject.uscc)
        yield stamp(
            row,
            n=n,
            provider=PROVIDER,
            system="exchange",
            produced=produced,
            received=received,
            rng=rng,
        )
