"""Persisted operations: an allow-list of GraphQL documents by SHA-256.

Built from ``.graphql`` files (the partner client's operations, and any an operator registers).
A request may send only the hash (``extensions.persistedQuery.sha256Hash``, as Apollo clients
do); with ``persisted_only`` a request whose document is not on the list is refused. A refusal
is ``NotPersisted``, whose ``code`` the GraphQL view sends as the error's code (HTTP 400):

- ``PERSISTED_QUERY_NOT_FOUND``: no operation has that hash (the message begins
  ``PersistedQueryNotFound``, which Apollo clients look for before sending the document);
- ``PERSISTED_QUERY_MISMATCH``: the document sent is not the one its hash names;
- ``PERSISTED_QUERY_REQUIRED``: only persisted operations are accepted here;
- ``BAD_REQUEST``: the hash is not 64 hex digits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from strawberry.http import GraphQLRequestData

from standard.errors import InputError


class NotPersisted(InputError):
    """A request the allow-list refuses; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def document_hash(document: str) -> str:
    """The hex SHA-256 of a document's exact text."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class PersistedQueries:
    """The allow-list: hash -> document."""

    def __init__(self, documents: Mapping[str, str], *, only: bool = False) -> None:
        self.documents = dict(documents)
        self.only = only

    @classmethod
    def from_paths(cls, paths: Iterable[Path], *, only: bool = False) -> PersistedQueries:
        """Every ``.graphql`` file under ``paths`` (files or folders) becomes one entry."""
        documents: dict[str, str] = {}
        for path in paths:
            if not path.exists():  # the client's operations are absent outside a checkout
                continue
            files = sorted(path.rglob("*.graphql")) if path.is_dir() else [path]
            for file in files:
                text = file.read_text(encoding="utf-8")
                documents[document_hash(text)] = text
        return cls(documents, only=only)

    def resolve(self, request: GraphQLRequestData, *, only: bool = False) -> GraphQLRequestData:
        """Fill in a document sent by hash, check one sent with a hash, enforce ``only`` (set
        for the deployment, or for one partner client's credentials)."""
        wanted = _hash_of(request.extensions)
        if wanted is not None:
            document = self.documents.get(wanted)
            if request.query is not None:
                if document_hash(request.query) != wanted:
                    raise NotPersisted(
                        "PERSISTED_QUERY_MISMATCH", "The document does not match its sha256Hash."
                    )
                return request
            if document is None:
                raise NotPersisted(
                    "PERSISTED_QUERY_NOT_FOUND",
                    f"PersistedQueryNotFound: no operation has sha256Hash {wanted}.",
                )
            return replace(request, query=document)
        if (self.only or only) and (
            request.query is None or document_hash(request.query) not in self.documents
        ):
            raise NotPersisted(
                "PERSISTED_QUERY_REQUIRED",
                "Only persisted operations are accepted: send extensions.persistedQuery."
                "sha256Hash of a registered operation.",
            )
        return request


def _hash_of(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    value = persisted.get("sha256Hash")
    if not isinstance(value, str) or len(value) != 64:
        raise NotPersisted(
            "BAD_REQUEST", "extensions.persistedQuery.sha256Hash must be 64 hex digits."
        )
    return value.lower()
