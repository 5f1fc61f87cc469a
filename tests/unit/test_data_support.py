"""Readers for the committed mock-data sample, shared by the test_data_* modules.

Only standard readers are used (csv, json, gzip), so the tests check the files
the way any consumer would see them, independent of the generator's code.
Holds no tests itself.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
README = REPO / "data" / "README.md"

DATASET_PREFIXES = {
    "vehicles": "raw/ecoride/vehicles/",
    "customers": "raw/ecoride/customers/",
    "sales": "raw/ecoride/sales/",
    "reviews": "raw/ecoride/reviews/",
    "stations": "raw/chargenet/stations/",
    "sessions": "raw/chargenet/sessions/",
    "vehicle_health": "raw/vehicle_health/",
    "documents": "raw/docs/",
}


def read_text(path: Path) -> str:
    """File content as text, gunzipped when the name ends in .gz."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader)
    return header, list(reader)


def read_json_records(path: Path) -> list[dict[str, Any]]:
    """Objects of a JSON array (.json) or JSON Lines (.jsonl) file, gzipped or not."""
    text = read_text(path)
    if path.name.removesuffix(".gz").endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    records = json.loads(text)
    assert isinstance(records, list), f"{path} is not a JSON array"
    return records


@cache
def manifest(root: Path = SAMPLE) -> dict[str, Any]:
    """The generator's manifest.json."""
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def files_of(dataset: str, root: Path = SAMPLE) -> list[Path]:
    """Files of a dataset in landing order (sorted by key), re-sent copies included."""
    return sorted((root / DATASET_PREFIXES[dataset]).rglob("*.*"))


def key_of(path: Path, root: Path = SAMPLE) -> str:
    """Landing key of a local file."""
    return path.relative_to(root).as_posix()


def resent_key(root: Path = SAMPLE) -> str:
    """Key of the re-sent sales file."""
    return manifest(root)["datasets"]["sales"]["resent_file"]["key"]


@cache
def csv_rows(dataset: str, root: Path = SAMPLE) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(key, row) for every CSV row of a dataset except the re-sent sales file."""
    out = []
    for path in files_of(dataset, root):
        if dataset == "sales" and key_of(path, root) == resent_key(root):
            continue
        _, rows = read_csv(path)
        out.extend((key_of(path, root), tuple(row)) for row in rows)
    return tuple(out)


@cache
def json_records(dataset: str, root: Path = SAMPLE) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(key, object) for every JSON record of a dataset, in file order."""
    out = []
    for path in files_of(dataset, root):
        out.extend((key_of(path, root), record) for record in read_json_records(path))
    return tuple(out)


def as_dicts(dataset: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """CSV rows of a dataset as dicts (re-sent file left out)."""
    return [dict(zip(columns, row, strict=True)) for _, row in csv_rows(dataset)]


def parse_date(value: str) -> date | None:
    """Strict ISO date, or None when unparseable."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_timestamp(value: str) -> datetime | None:
    """Strict ISO timestamp, or None when unparseable."""
    if len(value) < 19 or value[10] != "T":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def canonical_json(record: dict[str, Any]) -> str:
    """Key-order independent text of a record, for duplicate detection."""
    return json.dumps(record, sort_keys=True)


def readme_table(title: str) -> list[list[str]]:
    """Body rows of the markdown table under the ``## title`` heading of data/README.md."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip().strip("`") for c in row.strip("|").split("|")] for row in rows]
    return [row for row in cells[2:] if row]


def readme_number(cell: str) -> int:
    """An integer written with thousands separators, e.g. '8,365'."""
    return int(re.sub(r"[^\d]", "", cell))
