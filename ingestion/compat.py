"""Wire compatibility between pyiceberg and Nessie's Iceberg REST endpoint.

Nessie (0.99 to at least 0.104) still requires the deprecated
``last-column-id`` in ``add-schema`` updates and answers HTTP 400/500 without
it (projectnessie/nessie#11341, #11397); pyiceberg >= 0.10 no longer sends it.
So every schema evolution through pyiceberg fails against Nessie.

:func:`ensure_nessie_compatible` mounts a transport adapter on the REST
catalog's HTTP session that adds the field, computed the way Iceberg Java
still does (the schema's highest field id). Other requests pass untouched.
Delete this module once Nessie accepts the request as the REST spec allows.

Hazard: it relies on pyiceberg's ``RestCatalog._session`` being a
``requests.Session``; if that changes the adapter is simply not mounted and
schema evolution on Nessie fails loudly again (the integration tests catch it).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
from pyiceberg.catalog import Catalog
from requests.adapters import BaseAdapter, HTTPAdapter


def _highest_id(node: Any) -> int:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in ("id", "element-id", "key-id", "value-id") and isinstance(v, int)]
        return max(own + [_highest_id(v) for v in node.values()] + [0])
    if isinstance(node, list):
        return max([_highest_id(v) for v in node] + [0])
    return 0


def add_last_column_id(body: bytes) -> bytes:
    """The commit request body with ``last-column-id`` on each ``add-schema`` update."""
    try:
        request = json.loads(body)
    except ValueError:
        return body
    changed = False
    for update in request.get("updates", []) if isinstance(request, dict) else []:
        if update.get("action") == "add-schema" and "last-column-id" not in update:
            update["last-column-id"] = _highest_id(update.get("schema"))
            changed = True
    return json.dumps(request).encode() if changed else body


class _LastColumnIdAdapter(HTTPAdapter):
    """Rewrites add-schema commits, then hands the request to the adapter it replaced."""

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body
        if request.method == "POST" and isinstance(body, bytes) and b'"add-schema"' in body:
            request.body = add_last_column_id(body)
            request.headers["Content-Length"] = str(len(request.body))
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def ensure_nessie_compatible(catalog: Catalog) -> Catalog:
    """Mount the adapter on a REST catalog's session (idempotent; other catalogs untouched)."""
    session = getattr(catalog, "_session", None)
    uri = getattr(catalog, "uri", None)
    if not isinstance(session, requests.Session) or not isinstance(uri, str):
        return catalog
    parts = urlsplit(uri)
    prefix = f"{parts.scheme}://{parts.netloc}"  # the server may redirect paths (Nessie's config does)
    current = session.get_adapter(uri)
    if not isinstance(current, _LastColumnIdAdapter):
        session.mount(prefix, _LastColumnIdAdapter(current))
    return catalog
