"""The Iceberg catalog, chosen by configuration.

Embedded mode uses pyiceberg's SQL catalog on SQLite with a local warehouse
folder; native and docker modes use Nessie's Iceberg REST endpoint, which hands
pyiceberg the S3 settings for MinIO (we still pass credentials, because the
client signs its own S3 requests). Nothing else in the code knows which it is.
"""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from ingestion.compat import ensure_nessie_compatible
from lakehouse.settings import Settings
from lakehouse.state import private_dir


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg properties for the configured mode (contains secrets: do not log)."""
    if settings.mode == "embedded":
        warehouse = settings.embedded_warehouse_dir
        private_dir(settings.state_dir)  # the catalog and its data: owner-only (issue 9)
        private_dir(warehouse)
        return {
            "type": "sql",
            "uri": f"sqlite:///{warehouse / 'catalog.db'}",
            "warehouse": warehouse.as_uri(),
        }
    return {
        "type": "rest",
        "uri": settings.iceberg_rest_uri,
        "warehouse": "warehouse",
        "s3.endpoint": settings.s3_endpoint,
        "s3.access-key-id": settings.s3_access_key,
        "s3.secret-access-key": settings.s3_secret_key,
        "s3.region": settings.s3_region,
        "s3.path-style-access": "true",
    }


def open_catalog(settings: Settings) -> Catalog:
    """Open the lakehouse catalog (SQLite when embedded, Nessie REST otherwise)."""
    name = "lakehouse" if settings.mode == "embedded" else "nessie"
    # Every REST catalog we open gets the Nessie schema-change workaround (ingestion.compat).
    return ensure_nessie_compatible(load_catalog(name, **catalog_properties(settings)))
