"""The bad-input suite cannot rot: the registry, the README and the tests say the same."""

from __future__ import annotations

import importlib
import inspect
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from inventory_pipelines_tests.bad_input.kinds import ANSWERS, AREAS, KINDS, Kind

pytestmark = pytest.mark.bad_input

TESTS = Path(__file__).resolve().parents[1]
README = TESTS.parent / "README.md"
SECTION = "## Bad input: what is refused, and how"
MARKER = "bad_input"


def readme_rows(text: str) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Kind id -> (area, answer, tests) from the rows of the README's bad-input table."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    rows = {}
    for line in text[start : end if end >= 0 else None].splitlines():
        match = re.fullmatch(r"\| `([a-z0-9-]+)` \| (.+) \|", line)
        if match is None:
            continue
        cells = match[2].split(" | ")
        assert len(cells) == 5, f"README row of {match[1]}: 6 cells expected, got {len(cells) + 1}"
        area, _, answer, _, tests = cells
        assert match[1] not in rows, f"README lists {match[1]} twice"
        rows[match[1]] = (area, answer, tuple(re.findall(r"`([^`]+)`", tests)))
    return rows


def module_of(node: str) -> ModuleType:
    """The test module of a node id under inventory_pipelines_tests/."""
    path = node.split("::")[0]
    assert (TESTS / path).is_file(), f"{path}: no such test file"
    return importlib.import_module("inventory_pipelines_tests." + path[:-3].replace("/", "."))


def marks(thing: object) -> set[str]:
    """The names of the pytest marks on a module or a function."""
    found = getattr(thing, "pytestmark", [])
    return {mark.name for mark in (found if isinstance(found, list) else [found])}


def test_the_suite_has_30_kinds_or_more_and_4_in_each_area() -> None:
    assert len(KINDS) >= 30
    assert len({kind.id for kind in KINDS}) == len(KINDS), "a kind id given twice"
    per_area = Counter(kind.area for kind in KINDS)
    assert set(per_area) == set(AREAS) and min(per_area.values()) >= 4, per_area
    for kind in KINDS:
        assert kind.answer in ANSWERS, kind.id
        assert kind.tests, f"{kind.id}: no test shows it"
        text = [kind.input, kind.says, kind.kept]
        assert not any("|" in cell for cell in text), f"{kind.id}: a | would split its README row"


def test_the_readme_lists_the_kinds_of_the_registry() -> None:
    listed = readme_rows(README.read_text())
    assert sorted(listed) == sorted(kind.id for kind in KINDS)
    for kind in KINDS:
        area, answer, tests = listed[kind.id]
        assert area == kind.area, kind.id
        assert answer.startswith(f"{kind.answer}: "), kind.id
        assert tests == kind.tests, kind.id


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.id)
def test_every_test_of_a_kind_exists_and_carries_the_marker(kind: Kind) -> None:
    for node in kind.tests:
        module = module_of(node)
        _, _, name = node.partition("::")
        tests = [getattr(module, name, None)] if name else []
        if not name:
            tests = [f for n, f in inspect.getmembers(module) if n.startswith("test_")]
        assert tests and all(callable(t) for t in tests), f"{node}: no such test"
        for test in tests:
            assert MARKER in marks(module) | marks(test), f"{node}: not marked {MARKER}"


def test_every_marked_test_of_a_registered_module_shows_a_kind() -> None:
    """A test marked `bad_input` that no kind names would run in the suite uncounted."""
    registered = {node for kind in KINDS for node in kind.tests}
    modules = {node.split("::")[0] for node in registered}
    unlisted = []
    for path in sorted(modules):
        module = module_of(path)
        for name, test in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("test_") or test.__module__ != module.__name__:
                continue
            node = f"{path}::{name}"
            if MARKER in marks(module) | marks(test) and not {node, path} & registered:
                unlisted.append(node)
    assert unlisted == []
