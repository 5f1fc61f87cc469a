"""An embedded lakehouse in a temp folder, for orchestration tests (unit and integration).

Real SQLite Iceberg catalog, real local landing folder, the project's own
BronzeLoader: what the listener would do after a file drop, minus the watching.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pyiceberg.catalog import Catalog

from ingestion.catalog import open_catalog
from ingestion.loader import BronzeLoader, FileOutcome
from ingestion.storage import LocalObjectStore
from lakehouse.settings import Settings

SAMPLE_RAW = Path(__file__).resolve().parents[3] / "data" / "sample" / "raw"


@dataclass
class Lake:
    settings: Settings
    store: LocalObjectStore
    catalog: Catalog

    @classmethod
    def create(cls, base: Settings, state_dir: Path) -> Lake:
        settings = dataclasses.replace(base, mode="embedded", state_dir=state_dir)
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings, LocalObjectStore(settings.landing_dir), open_catalog(settings))

    def drop(self, files: dict[str, bytes]) -> list[FileOutcome]:
        """Land files and load them as one listener batch."""
        objects = []
        for key, data in files.items():
            self.store.put_bytes(key, data)
            objects.append(self.store.stat(key))
        return BronzeLoader(self.settings, catalog=self.catalog, store=self.store).load(objects)

    def drop_sample(self, *relative: str) -> list[FileOutcome]:
        """Land committed sample files (paths under data/sample/raw/) as one batch."""
        return self.drop({f"raw/{r}": (SAMPLE_RAW / r).read_bytes() for r in relative})

    def snapshot_id(self, table: str) -> int:
        snapshot = self.catalog.load_table((self.settings.bronze_namespace, table)).current_snapshot()
        assert snapshot is not None
        return snapshot.snapshot_id
