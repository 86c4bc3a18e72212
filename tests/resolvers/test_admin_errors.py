"""Administration errors: a caller's mistake is BAD_USER_INPUT or FORBIDDEN; a bug stays one."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.passwords import PasswordRejected
from policies.actor import ChangeRefused
from resolvers.graph.admin import ForbiddenError, _run
from resolvers.graph.errors import InvalidArgument
from standard.errors import Forbidden


async def _raising(exc: Exception) -> Any:
    raise exc


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        (PasswordRejected(("too short",)), InvalidArgument),
        (ChangeRefused("no party 'X'"), InvalidArgument),
        (Forbidden("may not"), ForbiddenError),
    ],
)
async def test_caller_mistakes_are_shown_with_their_message(
    raised: Exception, shown: type[Exception]
) -> None:
    with pytest.raises(shown) as caught:
        await _run(_raising(raised))
    assert str(raised) in str(caught.value)


@pytest.mark.parametrize("raised", [ValueError("invalid literal"), KeyError("k"), TypeError()])
async def test_any_other_error_is_not_passed_off_as_the_callers(raised: Exception) -> None:
    # masked as "Unexpected error." and logged by the schema's error handling, not shown as input
    with pytest.raises(type(raised)):
        await _run(_raising(raised))
