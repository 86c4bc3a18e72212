"""The demo tables in write order: source, model, row generator and expected size of each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from demo import complaints, credit, gov_services, supervision
from demo.stamp import Row, Stamper
from demo.world import World
from standard.exchange import ExchangeRecord
from standard.tables import complaints as complaint_tables
from standard.tables import credit as credit_tables
from standard.tables import gov_services as service_tables
from standard.tables import supervision as supervision_tables

Generator = Callable[[World, Stamper], Iterator[Row]]


@dataclass(frozen=True, slots=True)
class DemoTable:
    """One table of the demo data and how to make its rows."""

    source: str
    model: type[ExchangeRecord]
    prefix: str  # of its cd_id values
    generate: Generator
    size: Callable[[World], int]  # expected rows; exact for the catalogue, else an estimate

    @property
    def name(self) -> str:
        """The table name."""
        name: str = self.model.__tablename__  # type: ignore[attr-defined]
        return name

    def rows(self, world: World, batch: int) -> Iterator[Row]:
        """The table's rows, sent in exchange batch number ``batch``."""
        stamper = Stamper(self.model, prefix=self.prefix, batch=batch, timeline=world.timeline)
        return self.generate(world, stamper)


def _per_subject(rate: float) -> Callable[[World], int]:
    return lambda world: round(len(world.subjects) * rate)


TABLES: tuple[DemoTable, ...] = (
    DemoTable(
        "supervision",
        supervision_tables.Department,
        "DEP",
        supervision.departments,
        lambda w: len(w.catalogue.departments),
    ),
    DemoTable(
        "supervision",
        supervision_tables.Subject,
        "SUB",
        supervision.subjects,
        _per_subject(1.0),
    ),
    DemoTable(
        "supervision",
        supervision_tables.Matter,
        "MAT",
        supervision.matters,
        lambda w: len(w.catalogue.matters),
    ),
    DemoTable(
        "supervision",
        supervision_tables.InspectionItem,
        "ITM",
        supervision.inspection_items,
        lambda w: len(w.catalogue.items),
    ),
    DemoTable(
        "supervision", supervision_tables.Plan, "PLN", supervision.plans, lambda w: len(w.plans)
    ),
    DemoTable(
        "supervision",
        supervision_tables.Officer,
        "OFC",
        supervision.officers,
        lambda w: len(w.officers),
    ),
    DemoTable(
        "supervision", supervision_tables.Action, "ACT", supervision.actions, _per_subject(2.9)
    ),
    DemoTable(
        "complaints",
        complaint_tables.Complaint,
        "CMP",
        complaints.complaints,
        _per_subject(1.0),
    ),
    DemoTable(
        "credit",
        credit_tables.LicencePublicity,
        "LPB",
        credit.licence_publicity,
        _per_subject(1.32),
    ),
    DemoTable(
        "credit",
        credit_tables.PenaltyPublicity,
        "PPB",
        credit.penalty_publicity,
        _per_subject(0.2),
    ),
    DemoTable(
        "credit",
        credit_tables.CreditListEntry,
        "CLS",
        credit.credit_lists,
        _per_subject(0.05),
    ),
    DemoTable(
        "credit",
        credit_tables.CreditRating,
        "CRT",
        credit.credit_ratings,
        _per_subject(1.02),
    ),
    DemoTable(
        "gov_services",
        service_tables.LicensingItem,
        "LIT",
        gov_services.licensing_items,
        lambda w: len(w.catalogue.licensing),
    ),
    DemoTable(
        "gov_services",
        service_tables.Licence,
        "LIC",
        gov_services.licences,
        _per_subject(1.5),
    ),
)
