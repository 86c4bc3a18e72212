"""The open datasets, one spec per module, by ASCII name."""

from __future__ import annotations

from collections.abc import Mapping

from open_data.datasets import (
    audit_chain_heads,
    complaint_statistics,
    credit_publicity,
    inspection_list,
    inspection_results,
    matter_catalogue,
    officers,
    penalties,
    random_inspection_results,
)
from open_data.spec import DatasetSpec
from standard.errors import InputError

DATASETS: Mapping[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        matter_catalogue.SPEC,
        inspection_list.SPEC,
        officers.SPEC,
        inspection_results.SPEC,
        random_inspection_results.SPEC,
        penalties.SPEC,
        complaint_statistics.SPEC,
        credit_publicity.LICENCES,
        credit_publicity.PENALTIES,
        audit_chain_heads.SPEC,
    )
}


class UnknownDataset(InputError):
    """No open dataset has that name; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: no such dataset; datasets are {', '.join(DATASETS)}")
        self.dataset = name


def dataset(name: str) -> DatasetSpec:
    """The spec called ``name``; unknown names are ``UnknownDataset``."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDataset(name) from None
