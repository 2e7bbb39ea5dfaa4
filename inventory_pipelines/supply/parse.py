"""Parsing a supplier's feed file (CSV or JSON) into a frame of rows, each kept as it was read.

Every value is read as text: deciding what is a quantity, a code or a time is the cleaning's
job (`supply/rows.py`), which quarantines what is not, row by row. What the parse itself
decides:

- **encoding**: the body is decoded with the declared encoding (latin-1, cp1252...). Bytes
  the encoding cannot decode become U+FFFD and their row is marked ``undecodable`` (a feed in
  another encoding than declared loses those rows, not the whole feed).
- **a truncated CSV**: a CSV feed must end its last line with a newline. One that does not
  was cut off in transfer, and its last row is marked ``truncated_line``: a cut can leave a
  valid-looking row (``ABC-1,125`` cut to ``ABC-1,12``), so it is never trusted.
- **a ragged CSV row**: a row with more or fewer fields than the header is marked
  ``ragged_line`` (a field missing or one too many shifts every value after it: which one is
  the quantity is not guessed).
- **an unusable feed** raises `FeedUnusable`: JSON cut off (``truncated_feed``) or not a JSON
  array of records (``malformed_feed``), a CSV that does not parse, or declared columns the
  feed does not have (``missing_columns``).

The parsed frame (`PARSED_SCHEMA`): ``line`` (the CSV line, the header being line 1; the
JSON record's position from 1), ``code``, ``quantity``, ``updated_at`` (text as read), ``raw``
(the row: the CSV fields joined by the delimiter, the JSON record's declared keys as JSON) and
``defect`` (null, ``truncated_line``, ``ragged_line`` or ``undecodable``).
"""

from __future__ import annotations

import codecs
import csv
import io

import polars as pl

from inventory_pipelines.rules.feeds import FeedColumns, FeedFormat

PARSED_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "code": pl.Utf8(),
    "quantity": pl.Utf8(),
    "updated_at": pl.Utf8(),
    "raw": pl.Utf8(),
    "defect": pl.Utf8(),
}

REPLACEMENT = "\ufffd"
#: how much of an unusable body a quarantine row keeps
EXCERPT_CHARS = 200


class FeedUnusable(ValueError):
    """The feed as a whole cannot be read: `reason` is a quarantine reason, `detail` says why,
    `excerpt` is the end of the body (where a cut or a syntax error usually shows)."""

    def __init__(self, reason: str, detail: str, excerpt: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.excerpt = excerpt


def empty_parsed() -> pl.DataFrame:
    """A parsed feed without rows."""
    return pl.DataFrame(schema=PARSED_SCHEMA)


def decode(body: bytes, encoding: str) -> tuple[bytes, bool]:
    """The body as UTF-8 (what Polars reads), and whether some bytes could not be decoded."""
    codec = codecs.lookup(encoding).name
    if codec in ("utf-8", "utf-8-sig"):
        body = body.removeprefix(codecs.BOM_UTF8)
        try:
            body.decode("utf-8")
            return body, False
        except UnicodeDecodeError:
            return body.decode("utf-8", errors="replace").encode("utf-8"), True
    try:
        return body.decode(codec).encode("utf-8"), False
    except UnicodeDecodeError:
        return body.decode(codec, errors="replace").encode("utf-8"), True


def _excerpt(body: bytes) -> str:
    return body[-EXCERPT_CHARS:].decode("utf-8", errors="replace")


def parse_feed(
    body: bytes,
    *,
    format: FeedFormat,
    columns: FeedColumns,
    encoding: str = "utf-8",
    delimiter: str = ",",
    records_key: str | None = None,
) -> pl.DataFrame:
    """Parse a feed body into `PARSED_SCHEMA` rows; raise `FeedUnusable` for a feed that cannot
    be read at all."""
    text, lossy = decode(body, encoding)
    if format is FeedFormat.CSV:
        parsed = _parse_csv(text, columns, delimiter)
    else:
        parsed = _parse_json(text, columns, records_key)
    if lossy:
        bad = pl.any_horizontal(
            pl.col(c).str.contains(REPLACEMENT, literal=True).fill_null(False)
            for c in ("code", "quantity", "updated_at", "raw")
        )
        parsed = parsed.with_columns(
            defect=pl.when(pl.col("defect").is_null() & bad)
            .then(pl.lit("undecodable"))
            .otherwise(pl.col("defect"))
        )
    return parsed


def _missing(wanted: FeedColumns, present: set[str]) -> list[str]:
    declared = [wanted.code, wanted.quantity, *([wanted.updated_at] if wanted.updated_at else [])]
    return [name for name in declared if name not in present]


def _parse_csv(text: bytes, columns: FeedColumns, delimiter: str) -> pl.DataFrame:
    if not text.strip():
        raise FeedUnusable("missing_columns", "the feed is empty: not even a header line")
    try:
        frame = pl.read_csv(
            io.BytesIO(text),
            separator=delimiter,
            infer_schema=False,
            truncate_ragged_lines=True,
            row_index_name="__row",
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise FeedUnusable(
            "malformed_feed", f"the CSV does not parse: {str(exc).splitlines()[0]}", _excerpt(text)
        ) from None
    fields = [c for c in frame.columns if c != "__row"]
    missing = _missing(columns, set(fields))
    if missing:
        raise FeedUnusable(
            "missing_columns",
            f"the CSV header has no column {', '.join(repr(m) for m in missing)} "
            f"(it has {', '.join(repr(f) for f in fields)}); correct `columns` in the rules",
            _excerpt(text[:EXCERPT_CHARS]),
        )
    cut = not text.endswith(b"\n")
    last = frame.height - 1
    counts = _field_counts(text, delimiter, frame.height)
    frame = frame.with_columns(_ragged=counts["fields"] != len(fields), _written=counts["written"])
    return frame.select(
        (pl.col("__row").cast(pl.Int64) + 2).alias("line"),
        pl.col(columns.code).alias("code"),
        pl.col(columns.quantity).alias("quantity"),
        (pl.col(columns.updated_at) if columns.updated_at else pl.lit(None, pl.Utf8)).alias(
            "updated_at"
        ),
        pl.when(pl.col("_ragged") & pl.col("_written").is_not_null())
        .then(pl.col("_written"))
        .otherwise(pl.concat_str([pl.col(f).fill_null("") for f in fields], separator=delimiter))
        .alias("raw"),
        pl.when(pl.lit(cut) & (pl.col("__row") == last))
        .then(pl.lit("truncated_line"))
        .when(pl.col("_ragged"))
        .then(pl.lit("ragged_line"))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("defect"),
    )


#: a quoted CSV field (quotes inside doubled), removed before the delimiters are counted
_QUOTED = r'"(?:[^"]|"")*"'


def _field_counts(text: bytes, delimiter: str, rows: int) -> pl.DataFrame:
    """Per data row, its number of fields as written (``fields``; null for a blank line,
    which is no row of any width) and its line as written (``written``, where the lines are
    the rows): Polars fills a short row with nulls and cuts a long one, and either would shift
    a value into another column unseen.

    Counted on the lines, in Polars (the quoted parts removed, then the delimiters), when the
    lines are the rows; when a quoted field spans lines they are not, and Python's csv reader
    counts instead.
    """
    lines = pl.Series(text.decode("utf-8").split("\n")[1:], dtype=pl.Utf8)
    if text.endswith(b"\n"):
        lines = lines.head(-1)
    if lines.len() == rows:
        line = pl.col("written")
        counted = line.str.replace_all(_QUOTED, "").str.count_matches(delimiter, literal=True)
        return (
            lines.str.strip_suffix("\r")
            .to_frame("written")
            .select(
                pl.when(line.str.strip_chars() == "")
                .then(None)
                .otherwise(counted + 1)
                .cast(pl.Int64)
                .alias("fields"),
                line,
            )
        )
    reader = csv.reader(io.StringIO(text.decode("utf-8")), delimiter=delimiter)
    next(reader, None)
    records = [record for record in reader][:rows]
    records += [[]] * (rows - len(records))
    return pl.DataFrame(
        {
            "fields": [len(record) if any(record) else None for record in records],
            # every field the row has, the ones past the header's too
            "written": [delimiter.join(record) for record in records],
        },
        schema={"fields": pl.Int64, "written": pl.Utf8},
    )


def _parse_json(text: bytes, columns: FeedColumns, records_key: str | None) -> pl.DataFrame:
    stripped = text.strip()
    if not stripped:
        raise FeedUnusable("truncated_feed", "the JSON feed is empty")
    names = [columns.code, columns.quantity, *([columns.updated_at] if columns.updated_at else [])]
    record = pl.Struct({name: pl.Utf8 for name in names})
    opener, closer = (b"{", b"}") if records_key else (b"[", b"]")
    if not stripped.startswith(opener):
        shape = f"an object with the records under {records_key!r}" if records_key else "an array"
        raise FeedUnusable(
            "malformed_feed",
            f"the JSON document is not {shape} of records",
            _excerpt(stripped[:EXCERPT_CHARS]),
        )
    try:
        if records_key:
            frame = (
                pl.read_json(io.BytesIO(stripped), schema={records_key: pl.List(record)})
                .explode(records_key)
                .drop_nulls(records_key)
                .unnest(records_key)
            )
        else:
            frame = pl.read_json(io.BytesIO(stripped), schema=dict(record.to_schema()))
    except (pl.exceptions.PolarsError, ValueError) as exc:
        if not stripped.endswith(closer):
            raise FeedUnusable(
                "truncated_feed",
                f"the JSON document ends before its closing {closer.decode()!r}: cut off in "
                "transfer",
                _excerpt(stripped),
            ) from None
        raise FeedUnusable(
            "malformed_feed",
            f"the JSON does not parse: {str(exc).splitlines()[0]}",
            _excerpt(stripped),
        ) from None
    if frame.height:
        absent = [
            n for n in (columns.code, columns.quantity) if frame[n].null_count() == frame.height
        ]
        if absent:
            raise FeedUnusable(
                "missing_columns",
                f"no JSON record has the key {', '.join(repr(a) for a in absent)}; correct "
                "`columns` in the rules",
                _excerpt(stripped[:EXCERPT_CHARS]),
            )
    return frame.with_row_index("__row", offset=1).select(
        pl.col("__row").cast(pl.Int64).alias("line"),
        pl.col(columns.code).alias("code"),
        pl.col(columns.quantity).alias("quantity"),
        (pl.col(columns.updated_at) if columns.updated_at else pl.lit(None, pl.Utf8)).alias(
            "updated_at"
        ),
        pl.struct(names).struct.json_encode().alias("raw"),
        pl.lit(None, pl.Utf8).alias("defect"),
    )
