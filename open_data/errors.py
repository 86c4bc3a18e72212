"""Errors of the open-data publisher, each naming the dataset.

PublishError
 ├── SpecError            a spec that cannot be released: a column without a rule (fail closed)
 ├── ReleaseRefused       the release gate said no: k not reached, or personal data found
 └── PortalError          the portal refused for good (bad token, missing permission)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from standard.errors import JianguanError


class PublishError(JianguanError):
    """Base of the publisher's errors."""

    def __init__(self, dataset: str, reason: str) -> None:
        super().__init__(f"{dataset}: {reason}")
        self.dataset = dataset
        self.reason = reason


class SpecError(PublishError):
    """The spec is incomplete or inconsistent; nothing is released."""


class ReleaseRefused(PublishError):
    """The release gate refused the release; ``findings`` say where."""

    def __init__(self, dataset: str, reason: str, findings: Sequence[Any] = ()) -> None:
        super().__init__(dataset, reason)
        self.findings = list(findings)


class PortalError(PublishError):
    """The portal answered with a permanent error."""
