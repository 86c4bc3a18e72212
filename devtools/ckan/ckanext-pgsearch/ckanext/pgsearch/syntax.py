"""The part of the Solr (Lucene) query language CKAN sends, parsed into a small tree.

Understood: ``field:value``, ``field:"a phrase"``, ``field:(a OR b)``, ``*:*``, ``field:*``,
wildcards ``*`` and ``?``, ``[a TO b]`` / ``{a TO b}``, ``+``, ``-``, ``!``, ``NOT``,
``AND``/``&&``, ``OR``/``||``, parentheses and backslash escapes. Boosts (``^2``) and fuzziness
(``~1``) are read and ignored. Clauses combine as in Lucene's classic parser (``addClause``):
with ``q.op=AND``, ``a b`` needs both and ``a OR b`` either; ``+a -b c`` with ``q.op=OR`` needs
a, excludes b and leaves c optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

Occur = Literal["must", "should", "must_not"]

_SPECIAL = set('()"[]{}^~: \t\r\n')


class QuerySyntaxError(ValueError):
    """The query uses syntax this stand-in does not understand."""


@dataclass(frozen=True)
class MatchAll:
    """``*:*``."""


@dataclass(frozen=True)
class Exists:
    """``field:*``: the document has a value for the field."""

    field: str


@dataclass(frozen=True)
class Term:
    """A word or phrase; ``field`` None means the default field(s)."""

    field: str | None
    value: str
    wildcard: str | None = None  # a LIKE pattern when the word has unescaped * or ?
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    """``field:[low TO high]``; None is an open end (``*``)."""

    field: str | None
    low: str | None
    high: str | None
    include_low: bool
    include_high: bool


@dataclass(frozen=True)
class Bool:
    """Clauses with Lucene occurrences; ``minimum_should`` None: one SHOULD is needed if no MUST."""

    clauses: tuple[tuple[Occur, Node], ...]
    minimum_should: int | None = None


Node = MatchAll | Exists | Term | Range | Bool


@dataclass
class _Token:
    kind: str  # ( ) + - NOT AND OR word phrase range field
    text: str = ""
    bounds: Range | None = None


def _read_until(text: str, start: int, closers: str) -> tuple[str, int]:
    """Raw text from ``start`` to the first unescaped closer, and the index of that closer."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in closers:
            return text[start:i], i
        i += 1
    raise QuerySyntaxError(f"unterminated {text[start - 1]!r} in {text!r}")


def unescape(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            i += 1
        out.append(raw[i])
        i += 1
    return "".join(out)


def _like_pattern(raw: str) -> str | None:
    """A LIKE pattern for a raw word with unescaped wildcards, or None when it has none."""
    out, i, wild = [], 0, False
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            i += 1
            char = raw[i]
            out.append("\\" + char if char in "%_\\" else char)
        elif char == "*":
            out.append("%")
            wild = True
        elif char == "?":
            out.append("_")
            wild = True
        else:
            out.append("\\" + char if char in "%_" else char)
        i += 1
    return "".join(out) if wild else None


def _range_bound(raw: str) -> str | None:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return unescape(raw[1:-1])
    return None if raw == "*" else unescape(raw)


def tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char))
            i += 1
        elif char in "+-!":
            tokens.append(_Token("NOT" if char == "!" else char))
            i += 1
        elif text.startswith(("&&", "||"), i):
            tokens.append(_Token("AND" if char == "&" else "OR"))
            i += 2
        elif char in "^~":  # boost or fuzziness: skip the number that follows
            i += 1
            while i < len(text) and (text[i].isdigit() or text[i] == "."):
                i += 1
        elif char == '"':
            raw, end = _read_until(text, i + 1, '"')
            tokens.append(_Token("phrase", unescape(raw)))
            i = end + 1
        elif char in "[{":
            raw, end = _read_until(text, i + 1, "]}")
            parts = re.split(r"\s+TO\s+", raw.strip())
            if len(parts) != 2:
                raise QuerySyntaxError(f"a range needs 'low TO high': {raw!r}")
            low, high = (_range_bound(part) for part in parts)
            bounds = Range(None, low, high, include_low=char == "[", include_high=text[end] == "]")
            tokens.append(_Token("range", bounds=bounds))
            i = end + 1
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL:
                i += 2 if text[i] == "\\" else 1
            raw = text[start:i]
            if i < len(text) and text[i] == ":":
                tokens.append(_Token("field", unescape(raw)))
                i += 1
            elif raw in ("AND", "OR", "NOT"):
                tokens.append(_Token(raw))
            else:
                tokens.append(_Token("word", raw))
    return tokens


class _Parser:
    def __init__(self, text: str, *, default_and: bool) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.default_and = default_and

    def _next(self) -> _Token | None:
        token = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        self.pos += 1
        return token

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def query(self, default_field: str | None) -> Node:
        clauses: list[list[object]] = []  # [occur, node]: occurrences change as operators arrive
        conj: str | None = None
        while (token := self._peek()) is not None and token.kind != ")":
            if token.kind in ("AND", "OR"):
                conj = token.kind
                self._next()
                continue
            mods = None
            if token.kind in ("+", "-", "NOT"):
                mods = token.kind
                self._next()
            node = self.atom(default_field)
            # Lucene QueryParserBase.addClause, step by step.
            if clauses and conj == "AND" and clauses[-1][0] != "must_not":
                clauses[-1][0] = "must"
            if clauses and self.default_and and conj == "OR" and clauses[-1][0] != "must_not":
                clauses[-1][0] = "should"
            prohibited = mods in ("-", "NOT")
            if self.default_and:
                required = not prohibited and conj != "OR"
            else:
                required = mods == "+" or (conj == "AND" and not prohibited)
            occur = "must_not" if prohibited else "must" if required else "should"
            clauses.append([occur, node])
            conj = None
        if len(clauses) == 1 and clauses[0][0] != "must_not":
            return clauses[0][1]  # type: ignore[return-value]
        return Bool(tuple((occur, node) for occur, node in clauses))  # type: ignore[misc]

    def atom(self, default_field: str | None) -> Node:
        token = self._next()
        if token is None:
            raise QuerySyntaxError("the query ends where a term was expected")
        field_name = default_field
        if token.kind == "field":
            field_name = token.text
            token = self._next()
            if token is None:
                raise QuerySyntaxError(f"nothing after {field_name}:")
        if token.kind == "(":
            node = self.query(field_name)
            if (closing := self._next()) is None or closing.kind != ")":
                raise QuerySyntaxError("unbalanced parentheses")
            return node
        if token.kind == "phrase":
            return Term(field_name, token.text, phrase=True)
        if token.kind == "range" and token.bounds is not None:
            return replace(token.bounds, field=field_name)
        if token.kind == "word":
            if token.text == "*":
                return MatchAll() if field_name in (None, "*") else Exists(field_name)
            if field_name == "*":
                raise QuerySyntaxError("'*:' is only understood as '*:*'")
            pattern = _like_pattern(token.text)
            return Term(field_name, unescape(token.text), wildcard=pattern)
        raise QuerySyntaxError(f"unexpected {token.kind!r}")


def parse(text: str, *, default_and: bool = True) -> Node:
    """Parse a Solr query; ``default_and`` is ``q.op=AND`` (CKAN sends it with every search)."""
    if text.lstrip().startswith("{!"):
        raise QuerySyntaxError("local parameters ({!...}) are not supported by pgsearch")
    parser = _Parser(text, default_and=default_and)
    node = parser.query(None)
    if parser._peek() is not None:
        raise QuerySyntaxError("unbalanced parentheses")
    return node


def minimum_should_match(spec: str, optional: int) -> int:
    """Solr's ``mm`` for ``optional`` SHOULD clauses, e.g. ``2<-1 5<80%`` (CKAN's default)."""
    chosen = "100%"
    for condition in sorted(spec.split(), key=lambda c: int(c.split("<")[0]) if "<" in c else -1):
        if "<" not in condition:
            chosen = condition
        elif optional > int(condition.split("<")[0]):
            chosen = condition.split("<")[1]
    negative = chosen.startswith("-")
    amount = chosen.lstrip("-")
    count = optional * int(amount[:-1]) // 100 if amount.endswith("%") else int(amount)
    required = optional - count if negative else count
    return max(0, min(optional, required))
