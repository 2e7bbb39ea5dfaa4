"""The data plane on object storage: an `s3://bucket/prefix` base, reached through obstore.

The endpoint comes from `settings.object_store_endpoint()` (none: AWS itself); credentials and
region from the standard AWS variables or the machine's role, read by obstore itself and never
by this code, so they are in no message it writes. In the `local` environment the endpoint must
be on the loopback, like every other endpoint there.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from obstore.store import S3Store

from inventory_pipelines import settings

#: the object storage schemes the data plane writes to
SCHEMES = ("s3",)


class ObjectStoreConfigError(ValueError):
    """An object storage base that cannot be used here; one line, no credentials."""


def is_object_uri(base: str | os.PathLike[str]) -> bool:
    """Whether `base` names object storage (`s3://...`) rather than a local folder."""
    return isinstance(base, str) and urlparse(base).scheme in SCHEMES


def s3_store(uri: str) -> S3Store:
    """An obstore client for the bucket and prefix of `uri` (`s3://bucket/prefix`).

    Conditional writes are by ETag (`If-Match`, `If-None-Match: *`), which S3 and moto honour.
    Plain HTTP is allowed to a loopback endpoint (moto, a MinIO on this machine); elsewhere only
    if `AWS_ALLOW_HTTP=true` says so.
    """
    parsed = urlparse(uri)
    if parsed.scheme not in SCHEMES or not parsed.netloc:
        raise ObjectStoreConfigError(f"{uri!r} is not an object storage URI (s3://bucket/prefix)")
    endpoint = settings.object_store_endpoint()
    host = (urlparse(endpoint).hostname or "") if endpoint else ""
    if settings.environment() == "local":
        if endpoint is None:
            raise ObjectStoreConfigError(
                f"INVENTORY_ENV=local talks to no real endpoint: the data plane {uri} needs "
                "AWS_ENDPOINT_URL on this machine (moto, MinIO on 127.0.0.1), or a local folder"
            )
        if host not in settings.LOOPBACK_HOSTS:
            raise ObjectStoreConfigError(
                f"INVENTORY_ENV=local refuses the object storage endpoint host {host!r}: only "
                "loopback endpoints are allowed there (set INVENTORY_ENV=staging or prod)"
            )
    config: dict[str, str] = {"conditional_put": "etag"}
    client: dict[str, bool] = {}
    if endpoint:
        config["endpoint"] = endpoint
        if urlparse(endpoint).scheme == "http" and host in settings.LOOPBACK_HOSTS:
            client["allow_http"] = True
    return S3Store.from_url(uri, config=config, client_options=client or None)  # type: ignore[arg-type]
