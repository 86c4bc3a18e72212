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
)
from open_data.errors import SpecError
from open_data.spec import DatasetSpec

DATASETS: Mapping[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        matter_catalogue.SPEC,
        inspection_list.SPEC,
        officers.SPEC,
        inspection_results.SPEC,
        penalties.SPEC,
        complaint_statistics.SPEC,
        credit_publicity.LICENCES,
        credit_publicity.PENALTIES,
        audit_chain_heads.SPEC,
    )
}


def dataset(name: str) -> DatasetSpec:
    """The spec called ``name``; unknown names fail with the list of known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise SpecError(name, f"no such dataset; datasets are {', '.join(DATASETS)}") from None
