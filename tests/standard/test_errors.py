"""The error tree drawn in ``standard.errors`` is the tree the code has: every ``JianguanError``
is drawn under its own base, in the module it is said to live in, and no other exception class
exists but the internal signals the drawing names."""

from __future__ import annotations

import configparser
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import standard.errors
from standard.errors import JianguanError

ROOT = Path(__file__).parents[2]


def _packages() -> tuple[str, ...]:
    """The project's packages, as the import contracts list them (one list, so a new package
    is walked as soon as it is in the contracts)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return tuple(config["importlinter"]["root_packages"].split())


PACKAGES = _packages()
# Raised and caught inside one module, or the HTTP layer's own: never shown as errors.
SIGNALS = {
    "gateway.body_limit._TooLarge",
    "gateway.http.Refused",
    "resolvers.graph.plan.Fallback",
}
LINE = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)(?:\s+(?P<what>.*))?$")
MODULE = re.compile(r"^(?P<module>[a-z_]+(?:\.[a-z_]+)+):")


def modules() -> Iterator[str]:
    for package in PACKAGES:
        yield package
        path = importlib.import_module(package).__path__
        for found in pkgutil.walk_packages(path, f"{package}."):
            # Alembic's scripts and a program's entry point run when imported
            if ".migrations" not in found.name and not found.name.endswith("__main__"):
                yield found.name


def project_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in the project's packages, by qualified name."""
    found = {}
    for name in modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                found[f"{name}.{cls.__qualname__}"] = cls
    return found


def drawn() -> dict[str, tuple[str, str | None]]:
    """The tree in the docstring: each name's parent, and the module its line names."""
    doc = standard.errors.__doc__ or ""
    lines = doc.split("\n")
    top = next(i for i, line in enumerate(lines) if line.startswith("JianguanError "))
    tree: dict[str, tuple[str, str | None]] = {}
    stack: list[tuple[int, str]] = [(-1, "JianguanError")]
    for line in lines[top + 1 :]:
        if not line.strip():
            break
        match = LINE.match(line)
        if match is None:
            continue  # a description's second line
        column = len(match["indent"])
        while stack[-1][0] >= column:
            stack.pop()
        module = MODULE.match(match["what"] or "")
        tree[match["name"]] = (stack[-1][1], module["module"] if module else None)
        stack.append((column, match["name"]))
    return tree


@pytest.fixture(scope="module")
def classes() -> dict[str, type[BaseException]]:
    return project_classes()


def test_every_error_is_drawn_under_its_base_in_its_module(
    classes: dict[str, type[BaseException]],
) -> None:
    tree = drawn()
    ours = [cls for cls in classes.values() if issubclass(cls, JianguanError)]
    assert len(ours) > 40
    for cls in ours:
        if cls is JianguanError:
            continue
        assert cls.__name__ in tree, f"{cls.__module__}.{cls.__name__} is not drawn"
        parent, module = tree[cls.__name__]
        assert cls.__bases__ == (next(c for c in ours if c.__name__ == parent),), cls
        assert module in (None, cls.__module__), f"{cls.__name__} lives in {cls.__module__}"
    names = [cls.__name__ for cls in ours]
    assert sorted(set(names)) == sorted(names), "two errors share a name"
    assert set(tree) == set(names) - {"JianguanError"}, "the drawing names a class that is gone"


def test_no_exception_class_stands_outside_the_tree(
    classes: dict[str, type[BaseException]],
) -> None:
    outside = {name for name, cls in classes.items() if not issubclass(cls, JianguanError)}
    assert outside == SIGNALS
    doc = standard.errors.__doc__ or ""
    for signal in SIGNALS:
        assert signal.rsplit(".", 1)[1] in doc  # named as left out on purpose
