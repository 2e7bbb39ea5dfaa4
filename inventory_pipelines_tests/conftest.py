"""Fixtures every test package may use: a real PostgreSQL beside SQLite (see pg.py), a copy of
the shipped rules folder (rules_files.py)."""

pytest_plugins = ("inventory_pipelines_tests.pg", "inventory_pipelines_tests.rules_files")


def pytest_collection_modifyitems(items: list) -> None:
    """Modules with a `slow` test first, each module's tests in their order: `make test`
    hands whole modules to its two workers in collection order (`--dist loadfile`), and a
    slow module handed out last keeps one worker busy while the other idles (a 60 s module
    at the end of an alphabetical order was half a minute of the suite's wall time)."""
    slow_modules = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow_modules)
