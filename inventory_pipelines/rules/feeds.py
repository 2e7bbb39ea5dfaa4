"""The `feed` block of `vendors.yml` and `warehouses.yml`: where a supplier's stock feed is read.

Three kinds, told apart by ``kind``:

- ``http``: a CSV or JSON file fetched over HTTP(S) (``url``), conditionally: the ETag and
  Last-Modified of the last good fetch are sent back, and a 304 reuses its parse. A credential,
  when the server wants one, is the value of the environment variable named by
  ``auth_header_env`` (sent as the ``Authorization`` header, e.g. ``Bearer ...``): the rules
  name the variable, never the secret, and the URL carries no user or password.
- ``folder``: the newest file matching ``pattern`` in ``path``, a local folder or an object
  storage prefix (``s3://bucket/prefix``, reached like the data plane).
- ``channel_api``: the project's generic signed channel protocol (``GET /listings``, HMAC
  signed with the secret in the environment variable named by ``secret_env``): each listing's
  ``sku`` is the supplier's code and ``quantity`` its stock.

``columns`` names the feed's columns (CSV header or JSON keys): ``code`` (the supplier's
product code; for a 3PL, our SKU), ``quantity`` and, optionally, ``updated_at`` (when the
row's quantity was true; rows older than the freshness limit count as zero), read in
``timezone`` when written without an offset.
"""

from __future__ import annotations

import codecs
import datetime as dt
import fnmatch
import re
import zoneinfo
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlparse

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: an environment variable's name, as the rules may name one (never its value)
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
#: query parameters that carry credentials: refused in a URL (the rules are in git, and HTTP
#: clients log request URLs)
CREDENTIAL_PARAMETERS = re.compile(
    r"(^|_)(token|key|apikey|secret|password|passwd|signature|sig|auth|credential)s?($|_)",
    re.IGNORECASE,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedFormat(StrEnum):
    """How a feed file is written."""

    CSV = "csv"
    JSON = "json"


class FeedColumns(_Strict):
    """The names of the feed's columns (CSV header or JSON keys)."""

    code: str = Field(default="code", min_length=1)
    quantity: str = Field(default="quantity", min_length=1)
    updated_at: str | None = Field(default=None, min_length=1)
    #: the time zone of an ``updated_at`` written without an offset (an IANA name such as
    #: Europe/Berlin); one with an offset or Z is read as written
    timezone: str = Field(default="UTC", min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # the zones the feed's times are read in (Polars' own database: a few names Python's
        # zoneinfo takes, such as `localtime`, it does not)
        try:
            zoneinfo.ZoneInfo(value)
            pl.Series([dt.datetime(2026, 1, 1)]).dt.replace_time_zone(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, pl.exceptions.PolarsError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value


class _FileFeed(_Strict):
    """What a feed made of a file declares: its format, encoding and columns."""

    format: FeedFormat = FeedFormat.CSV
    encoding: str = "utf-8"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    #: JSON only: the key of the array of records when the document is an object (else the
    #: document itself is the array)
    records_key: str | None = Field(default=None, min_length=1)
    columns: FeedColumns = FeedColumns()

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}: use a Python codec name such as utf-8, "
                "latin-1 or cp1252"
            ) from None


def _env_name(value: str | None, field: str) -> str | None:
    # the value is never repeated: a secret pasted here instead of a name must not reach a log
    if value is not None and not ENV_NAME.match(value):
        raise ValueError(
            f"{field} names an environment variable (upper-case letters, digits and '_', e.g. "
            "INVENTORY_VENDOR_ACME_AUTH) that holds the credential; the credential itself "
            "never goes in the rules"
        )
    return value


def _http_url(value: str, field: str) -> str:
    # the value is not repeated either: a URL may carry a token in its query
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{field} must be an http:// or https:// URL with a host")
    if parsed.username or parsed.password:
        raise ValueError(
            f"{field} must not carry a user or password: name an environment variable holding "
            "the credential instead (auth_header_env or secret_env)"
        )
    for name, _ in parse_qsl(parsed.query, keep_blank_values=True):
        if CREDENTIAL_PARAMETERS.search(name):
            raise ValueError(
                f"{field} must not carry a credential in its query ({name}=...): name an "
                "environment variable holding it instead (auth_header_env or secret_env)"
            )
    return value


class HttpFeed(_FileFeed):
    """A feed file fetched over HTTP(S), conditionally (ETag, Last-Modified)."""

    kind: Literal["http"]
    url: str
    auth_header_env: str | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")

    @field_validator("auth_header_env")
    @classmethod
    def _auth_env(cls, value: str | None) -> str | None:
        return _env_name(value, "auth_header_env")


class FolderFeed(_FileFeed):
    """The newest file matching `pattern` in a folder or an object storage prefix."""

    kind: Literal["folder"]
    path: str = Field(min_length=1)
    pattern: str = Field(default="*", min_length=1)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("", "s3", "file"):
            raise ValueError(
                f"path must be a folder or an s3://bucket/prefix, not a {parsed.scheme}:// URL"
            )
        if parsed.scheme == "s3" and not parsed.netloc:
            raise ValueError(f"path {value!r} names no bucket: write s3://bucket/prefix")
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("pattern matches file names in the folder: it takes no '/'")
        fnmatch.translate(value)
        return value


class ChannelApiFeed(_Strict):
    """A supplier speaking the generic signed channel protocol: its listings are its stock."""

    kind: Literal["channel_api"]
    url: str
    secret_env: str
    timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "url")

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: str) -> str:
        return _env_name(value, "secret_env") or value


#: the `feed` block: one of the three kinds, chosen by `kind`
Feed = Annotated[HttpFeed | FolderFeed | ChannelApiFeed, Field(discriminator="kind")]


def feed_source(feed: HttpFeed | FolderFeed | ChannelApiFeed) -> str:
    """Where the feed is read, as it may be shown anywhere: no query string, no credential."""
    if isinstance(feed, FolderFeed):
        return f"{feed.path.rstrip('/')}/{feed.pattern}"
    parsed = urlparse(feed.url)
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}"
