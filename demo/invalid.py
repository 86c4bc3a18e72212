"""The deliberately invalid demo records, so that validation and quality scores have work to do.

In every table that carries codes or personal data from outside the catalogue, the rows at
positions 7, 507, 1007, ... (``n % 500 == 7``, counted from 0 in write order, which is also the
number in the row's ``cd_id``) are broken; that is 0.2% of rows, and at least one row as soon as
a table has eight. What is broken:

- ``subjects``, ``credit_lists``, ``credit_ratings``: the subject's USCC has a wrong check
  character.
- ``actions``, cycling by ``n // 500 % 4``: (0) the matter code is missing from the matter
  catalogue; (1) the matter was cancelled or stopped before the act (when no matter ended
  before that day, the code is missing instead); (2) the subject's USCC, and the counterparty's
  when it is the subject, has a wrong check character; (3) the counterparty is a natural person
  whose ID number has a wrong check character.
- ``complaints``: alternately the complainant's ID number and the subject's USCC have a wrong
  check character.
- ``licence_publicity``, ``penalty_publicity``, ``licences``: the counterparty's or applicant's
  USCC, or ID number for a natural person, has a wrong check character.

Only the stored record is broken: the subject itself stays valid everywhere else. The
catalogue tables (departments, matters, inspection items, plans, officers, licensing items) are
all valid; their deliberate flaw is R2: the matters linked to ``MISSING_LICENCES`` and
``CANCELLED_LICENCES`` of ``demo.departments`` point to items missing from, or cancelled in, the
government-service catalogue.
"""

from __future__ import annotations

from typing import Final

EVERY: Final = 500
AT: Final = 7
TABLES: Final = frozenset(
    {
        "subjects",
        "actions",
        "complaints",
        "licence_publicity",
        "penalty_publicity",
        "credit_lists",
        "credit_ratings",
        "licences",
    }
)

_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ID_ALPHABET: Final = "0123456789X"


def is_invalid(n: int) -> bool:
    """Whether the ``n``-th row of a table in ``TABLES`` is deliberately broken."""
    return n % EVERY == AT


def variant(n: int, count: int) -> int:
    """Which of ``count`` ways the ``n``-th row is broken."""
    return n // EVERY % count


def invalid_count(rows: int) -> int:
    """How many of a table's first ``rows`` rows are broken."""
    return (rows + EVERY - 1 - AT) // EVERY


def wrong_uscc(code: str) -> str:
    """``code`` with its check character replaced by the next one of the alphabet."""
    return code[:17] + _USCC_ALPHABET[(_USCC_ALPHABET.index(code[17]) + 1) % 31]


def wrong_id(code: str) -> str:
    """``code`` with its check character replaced by the next of 0-9, X."""
    return code[:17] + _ID_ALPHABET[(_ID_ALPHABET.index(code[17]) + 1) % 11]
