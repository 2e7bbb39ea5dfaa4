"""Parsing a feed body: encodings decoded as declared, cut-off files detected, unusable feeds
refused as a whole with the reason (pure: no server)."""

from __future__ import annotations

import polars as pl
import pytest

from inventory_pipelines.rules.feeds import FeedColumns, FeedFormat
from inventory_pipelines.supply.parse import FeedUnusable, parse_feed

CSV = FeedFormat.CSV
JSON = FeedFormat.JSON
COLUMNS = FeedColumns()


def test_a_cp1252_feed_declared_as_such_is_decoded_to_the_same_codes():
    body = "code,quantity\nÉCROU-10,4\nZÜRICH-2,1\n".encode("cp1252")
    parsed = parse_feed(body, format=CSV, columns=COLUMNS, encoding="cp1252")
    assert parsed["code"].to_list() == ["ÉCROU-10", "ZÜRICH-2"]
    assert parsed["defect"].null_count() == parsed.height


def test_a_cp1252_feed_read_as_utf8_marks_only_the_rows_it_cannot_decode():
    body = "code,quantity\nÉCROU-10,4\nPLAIN-1,1\n".encode("cp1252")
    parsed = parse_feed(body, format=CSV, columns=COLUMNS, encoding="utf-8")
    assert parsed["defect"].to_list() == ["undecodable", None]
    assert parsed["code"][1] == "PLAIN-1"


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name():
    body = "\ufeffcode,quantity\nA-1,4\n".encode()
    assert parse_feed(body, format=CSV, columns=COLUMNS)["code"].to_list() == ["A-1"]


def test_a_csv_without_a_final_newline_has_its_last_line_marked_cut_off():
    parsed = parse_feed(b"code,quantity\nA-1,4\nA-2,12", format=CSV, columns=COLUMNS)
    assert parsed["defect"].to_list() == [None, "truncated_line"]
    assert parsed["line"].to_list() == [2, 3]
    assert parsed["raw"][1] == "A-2,12"


def test_a_csv_row_with_more_or_fewer_fields_than_the_header_is_marked_ragged():
    """A field missing or one too many shifts every value after it: never guessed, and the
    row is kept as written (Polars would have cut the long one and padded the short one)."""
    body = b'code,quantity\r\nA-1,4\r\nA-2,7,12\r\nA-3\r\n"A,4",5\r\n\r\nA-6,"1,5",9\r\n'
    parsed = parse_feed(body, format=CSV, columns=COLUMNS)
    assert parsed["defect"].to_list() == [
        None,
        "ragged_line",
        "ragged_line",
        None,
        None,
        "ragged_line",
    ]
    assert parsed["raw"].to_list()[1:3] == ["A-2,7,12", "A-3"]
    assert parsed["raw"][5] == 'A-6,"1,5",9'


def test_ragged_rows_are_found_when_a_quoted_field_spans_lines():
    body = b'code,quantity\n"A-\n1",4\nA-2,7,12\nA-3,1\n'
    parsed = parse_feed(body, format=CSV, columns=COLUMNS)
    assert parsed["code"].to_list() == ["A-\n1", "A-2", "A-3"]
    assert parsed["defect"].to_list() == [None, "ragged_line", None]
    assert parsed["raw"][1] == "A-2,7,12"  # every field it has, the one too many too


def test_a_csv_with_its_declared_columns_renamed_keeps_the_rows_as_read():
    body = b"sku;on_hand;stamp;note\nA-1;4;2026-12-01T00:00:00Z;x\n"
    columns = FeedColumns(code="sku", quantity="on_hand", updated_at="stamp")
    parsed = parse_feed(body, format=CSV, columns=columns, delimiter=";")
    assert parsed.row(0, named=True) == {
        "line": 2,
        "code": "A-1",
        "quantity": "4",
        "updated_at": "2026-12-01T00:00:00Z",
        "raw": "A-1;4;2026-12-01T00:00:00Z;x",
        "defect": None,
    }


def test_a_csv_without_a_declared_column_is_unusable_and_names_what_it_has():
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(b"item,qty\nA-1,4\n", format=CSV, columns=COLUMNS)
    assert caught.value.reason == "missing_columns"
    assert "'code', 'quantity'" in caught.value.detail and "'item', 'qty'" in caught.value.detail


def test_an_empty_csv_is_unusable():
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(b"", format=CSV, columns=COLUMNS)
    assert caught.value.reason == "missing_columns"


def test_a_json_array_is_read_with_numbers_and_text_alike():
    body = (
        b'[{"code":"A-1","quantity":4},{"code":"A-2","quantity":"2.5"},{"code":7,"quantity":null}]'
    )
    parsed = parse_feed(body, format=JSON, columns=COLUMNS)
    assert parsed["code"].to_list() == ["A-1", "A-2", "7"]
    assert parsed["quantity"].to_list() == ["4", "2.5", None]
    assert parsed["line"].to_list() == [1, 2, 3]


def test_a_json_object_with_its_records_under_a_key():
    body = b'{"generated":"today","items":[{"code":"A-1","quantity":4}]}'
    parsed = parse_feed(body, format=JSON, columns=COLUMNS, records_key="items")
    assert parsed.select("code", "quantity").rows() == [("A-1", "4")]


def test_a_json_feed_cut_off_is_unusable_as_truncated_with_its_end_kept():
    body = b'[{"code":"A-1","quantity":4},{"code":"A-2","qua'
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(body, format=JSON, columns=COLUMNS)
    assert caught.value.reason == "truncated_feed"
    assert caught.value.excerpt.endswith('"qua')


def test_a_json_feed_that_closes_but_does_not_parse_is_malformed():
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(b'[{"code":"A-1","quantity":4},,]', format=JSON, columns=COLUMNS)
    assert caught.value.reason == "malformed_feed"


def test_a_json_object_where_an_array_is_expected_is_malformed():
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(b'{"items": []}', format=JSON, columns=COLUMNS)
    assert caught.value.reason == "malformed_feed" and "array" in caught.value.detail


def test_a_json_feed_whose_records_lack_the_code_key_names_it():
    with pytest.raises(FeedUnusable) as caught:
        parse_feed(b'[{"sku":"A-1","quantity":4}]', format=JSON, columns=COLUMNS)
    assert caught.value.reason == "missing_columns" and "'code'" in caught.value.detail


def test_a_large_feed_parses_as_frames(tmp_path):
    body = ("code,quantity\n" + "".join(f"C-{i},{i % 97}\n" for i in range(200_000))).encode()
    parsed = parse_feed(body, format=CSV, columns=COLUMNS)
    assert parsed.height == 200_000
    assert parsed.filter(pl.col("defect").is_not_null()).height == 0


def test_a_ragged_row_is_a_second_opinion_on_its_code_so_neither_row_counts():
    from datetime import UTC, datetime, timedelta

    from inventory_pipelines.supply.rows import clean

    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    body = b"code,quantity\nA-1,5\nA-1,0,late,x\nA-2,3\n"
    parsed = parse_feed(body, format=CSV, columns=COLUMNS)
    kept, rejected = clean(parsed, feed_as_of=at, now=at, freshness=timedelta(hours=24))
    assert kept["code"].to_list() == ["A-2"]
    assert sorted(rejected["reason"].to_list()) == ["duplicate_code", "ragged_line"]


def test_times_written_the_sql_way_with_an_offset_are_read():
    from inventory_pipelines.supply.rows import parse_times

    times = parse_times(pl.Series(["2026-12-01 08:00:00+01:00", "2026-12-01 08:00:00.5-02"]))
    assert [t.isoformat() for t in times] == [
        "2026-12-01T07:00:00+00:00",
        "2026-12-01T10:00:00.500000+00:00",
    ]
