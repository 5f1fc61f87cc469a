"""One ingestion behaviour suite, two backends.

``backend`` is parametrized over ``sqlite`` (embedded settings in tmp_path,
the SQL catalog on SQLite, a local landing folder) and ``nessie`` (a bucket
and bronze namespace of the test's own on the real MinIO and Nessie; marked
``integration``). Tests talk to :class:`Backend` only, so each runs unchanged
on both.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from lakehouse.settings import Settings
from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader
from ingestion.source import SourceObject
from ingestion.storage import LocalObjectStore, ObjectStore, S3ObjectStore
from tests.integration.conftest import drop_namespace

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


@dataclass
class Backend:
    """A catalog and a store, plus the few moves the tests make on them."""

    name: str
    settings: Settings
    store: ObjectStore
    catalog: Catalog

    def put(self, key: str, data: bytes | str) -> SourceObject:
        """Land an object (as a producer would) and describe it as an event would."""
        self.store.put_bytes(key, data.encode() if isinstance(data, str) else data)
        return self.store.stat(key)

    def loader(self) -> BronzeLoader:
        """A fresh loader, as after a process restart."""
        return BronzeLoader(self.settings, catalog=self.catalog, store=self.store)

    def table(self, name: str) -> Table:
        return self.catalog.load_table((self.settings.bronze_namespace, name))

    def rows(self, name: str) -> pa.Table:
        return self.table(name).scan().to_arrow()

    def read(self, key: str) -> bytes:
        with self.store.stat(key).open() as stream:
            return stream.read()

    def exists(self, key: str) -> bool:
        return any(o.key == key for o in self.store.list(key))


@pytest.fixture(params=["sqlite", pytest.param("nessie", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, base_settings: Settings, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
        settings.landing_dir.mkdir(parents=True)
        yield Backend("sqlite", settings, LocalObjectStore(settings.landing_dir), open_catalog(settings))
        return
    from lakehouse.services.minio import minio_client

    settings = request.getfixturevalue("isolated_settings")
    catalog = open_catalog(settings)
    yield Backend("nessie", settings, S3ObjectStore(minio_client(settings), settings.bucket), catalog)
    drop_namespace(catalog, settings.bronze_namespace)


@pytest.fixture(scope="session")
def sample_manifest() -> dict:
    """The committed sample's manifest (row counts per file)."""
    path = SAMPLE / "manifest.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: generate it with `python -m data.generate --out data/sample --scale 1 --seed 7`")
    return json.loads(path.read_text())


def land_sample(backend: Backend, prefix: str = "raw/") -> list[SourceObject]:
    """Copy the committed sample files under ``prefix`` into the backend's store."""
    objects = []
    for path in sorted((SAMPLE / "raw").rglob("*")):
        key = path.relative_to(SAMPLE).as_posix()
        if path.is_file() and key.startswith(prefix):
            objects.append(backend.put(key, path.read_bytes()))
    return objects


SALES_HEADER = "sale_id,customer_id,vehicle_id,model_id,sale_date,sale_price_usd,discount_usd,payment_method,dealership,state"


def sales_csv(*rows: str, header: str = SALES_HEADER) -> str:
    """A small sales CSV: header plus the given lines."""
    return "\n".join((header, *rows)) + "\n"
