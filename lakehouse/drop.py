"""``lakehouse drop FILE…``: put files where the listener picks them up.

Embedded mode copies into the landing folder (to a hidden temporary name, then
renamed, so the folder watcher never sees half a file); native and docker modes
upload to the bucket, which fires the MinIO notification. A file's key is
``--to`` plus its name, or — for a path that has a ``raw/`` folder in it, like
``data/sample/raw/ecoride/sales/sales_2023-01.csv`` — its path from ``raw/`` on.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings


class DropError(LakehouseError):
    """A file cannot be dropped; the message says which and why."""


def key_for(path: Path, settings: Settings, to: str | None = None, base: Path | None = None) -> str:
    """The landing key of ``path``: ``--to`` + name, its path under ``base``, or its path from ``raw/``."""
    raw = settings.raw_prefix
    if to:
        prefix = to if to.startswith(raw) else raw + to.lstrip("/")
        return prefix.rstrip("/") + "/" + path.name
    if base is not None:
        return path.resolve().relative_to(base.resolve()).as_posix()
    parts = path.resolve().parts
    if raw.rstrip("/") in parts[:-1]:
        at = len(parts) - 1 - parts[::-1].index(raw.rstrip("/"))
        return "/".join(parts[at:])
    raise DropError(f"{path}: say where it belongs with --to (for example --to {raw}ecoride/sales/)")


def drop_files(settings: Settings, files: Sequence[Path], to: str | None = None, base: Path | None = None) -> list[str]:
    """Drop every file; returns their keys. Nothing is dropped if one of them is unusable."""
    planned = []
    for path in files:
        if not path.is_file():
            raise DropError(f"{path}: no such file")
        planned.append((path, key_for(path, settings, to, base)))
    put = _local_put(settings) if settings.mode == "embedded" else _bucket_put(settings)
    for path, key in planned:
        put(path, key)
    return [key for _, key in planned]


def _local_put(settings: Settings) -> Callable[[Path, str], None]:
    def put(path: Path, key: str) -> None:
        target = settings.landing_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.dropping")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    return put


def _bucket_put(settings: Settings) -> Callable[[Path, str], None]:
    from lakehouse.services.minio import minio_client  # noqa: PLC0415 - only the bucket path needs it

    client = minio_client(settings)

    def put(path: Path, key: str) -> None:
        client.fput_object(settings.bucket, key, str(path))

    return put


def drop_command(args: argparse.Namespace, settings: Settings) -> int:
    keys = drop_files(settings, [Path(f) for f in args.files], to=args.to)
    where = f"{settings.landing_dir}/" if settings.mode == "embedded" else f"s3://{settings.bucket}/"
    for key in keys:
        print(f"dropped {where}{key}")
    return 0


def add_drop_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--to", help="landing prefix, e.g. raw/ecoride/sales/ (default: the file's path from raw/)")
    p.set_defaults(func=drop_command)


def register(subcommands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    subcommands.setdefault("drop", ("put files into the landing folder or bucket", add_drop_arguments))
