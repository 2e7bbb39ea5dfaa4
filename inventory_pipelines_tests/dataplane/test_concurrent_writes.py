"""Concurrent writers of one table (threads and processes) must not lose each other's updates."""

from __future__ import annotations

import multiprocessing
import threading
import time

import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.dataplane.store import file_lock

KEY = ("allocation", "allocation")
SCHEMA = {"sku": pl.Utf8, "warehouse": pl.Utf8, "available": pl.Float64}
WRITERS = 4
SKUS_PER_WRITER = 50
ROUNDS = 15
BACKGROUND = [f"BG-{i:05d}" for i in range(5_000)]


def subset(writer: int) -> list[str]:
    return [f"W{writer}-{i:03d}" for i in range(SKUS_PER_WRITER)]


def rows(skus: list[str], value: float) -> pl.DataFrame:
    return pl.DataFrame(
        {"sku": skus, "warehouse": ["MAIN"] * len(skus), "available": [value] * len(skus)},
        schema=SCHEMA,
    )


def upsert_rounds(base: str, writer: int, partition: str | None, start=None) -> None:
    """One writer: upsert its own SKU subset ROUNDS times, with the round as the value."""
    store = TableStore(base)
    skus = subset(writer)
    if start is not None:
        start.wait()
    for round_ in range(ROUNDS):
        store.write(KEY, rows(skus, float(round_)), partition, replace_skus=skus, sort_by=["sku"])


def seed(store: TableStore, partition: str | None) -> None:
    store.write(KEY, rows(BACKGROUND, -1.0), partition, sort_by=["sku"])


def assert_no_lost_update(store: TableStore, partition: str | None) -> None:
    table = store.read(KEY, partition)
    expected = {sku: -1.0 for sku in BACKGROUND}
    for writer in range(WRITERS):
        expected.update({sku: float(ROUNDS - 1) for sku in subset(writer)})
    got = dict(zip(table["sku"].to_list(), table["available"].to_list(), strict=True))
    assert table.height == len(expected)
    wrong = {sku: got.get(sku) for sku, value in expected.items() if got.get(sku) != value}
    assert not wrong, f"{len(wrong)} SKUs lost their last update, e.g. {list(wrong.items())[:3]}"


def test_threads_upserting_disjoint_subsets_keep_every_subset(tmp_path):
    for partition in (None, "2024-05-01"):
        store = TableStore(tmp_path)
        seed(store, partition)
        start = threading.Barrier(WRITERS)
        threads = [
            threading.Thread(target=upsert_rounds, args=(str(tmp_path), w, partition, start))
            for w in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert_no_lost_update(store, partition)


def test_processes_upserting_disjoint_subsets_keep_every_subset(tmp_path):
    store = TableStore(tmp_path)
    seed(store, None)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    processes = [
        context.Process(target=upsert_rounds, args=(str(tmp_path), w, None, start))
        for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    assert_no_lost_update(store, None)


def test_a_full_write_waits_for_the_table_lock(tmp_path):
    store = TableStore(tmp_path)
    done = threading.Event()

    def full_write() -> None:
        store.write(KEY, rows(["A"], 1.0))
        done.set()

    with file_lock(store.lock_path(KEY)):
        writer = threading.Thread(target=full_write)
        writer.start()
        time.sleep(0.3)
        assert not done.is_set() and not store.exists(KEY)
    writer.join(timeout=10)
    assert done.is_set() and store.read(KEY)["sku"].to_list() == ["A"]


def test_lock_files_stay_out_of_the_table_folders(tmp_path):
    store = TableStore(tmp_path)
    store.write(KEY, rows(["A"], 1.0))
    store.write(("allocation", "history"), rows(["B"], 2.0), "2024-05-01")
    assert store.tables() == [
        (("allocation", "allocation"), False),
        (("allocation", "history"), True),
    ]
    assert sorted(p.name for p in (tmp_path / "allocation").rglob("*")) == [
        "2024-05-01.parquet",
        "allocation.parquet",
        "history",
    ]
    assert store.lock_path(KEY) == tmp_path / ".locks" / "allocation" / "allocation.parquet.lock"


def test_reads_during_writes_see_a_whole_table(tmp_path):
    store = TableStore(tmp_path)
    seed(store, None)
    stop = time.monotonic() + 2.0
    errors: list[BaseException] = []

    def write() -> None:
        for round_ in range(10_000):
            if time.monotonic() > stop:
                return
            store.write(KEY, rows(BACKGROUND[: 1_000 + (round_ % 5) * 1_000], 0.0))

    def read() -> None:
        while time.monotonic() < stop:
            try:
                store.read(KEY, skus=BACKGROUND[:3])
                assert store.read(KEY).height in {1_000, 2_000, 3_000, 4_000, 5_000}
            except BaseException as error:  # polars raises a PanicException (a BaseException)
                errors.append(error)
                return

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
