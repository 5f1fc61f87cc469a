"""Object storage behind one small interface: the MinIO bucket or a local folder.

The listener's replay, the loaders and quarantine only talk to ``ObjectStore``,
so embedded mode (a landing folder) and the native/docker modes (a bucket)
share every other line of code.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from lakehouse.errors import PermanentError, RetryableError
from lakehouse.settings import Settings
from lakehouse.state import private_dir
from ingestion.source import SourceObject


class ObjectStore(Protocol):
    """The few storage operations the lakehouse needs."""

    def list(self, prefix: str) -> Iterator[SourceObject]:
        """Every object under ``prefix`` (recursive), in key order."""

    def stat(self, key: str) -> SourceObject:
        """The current version of one object; PermanentError if it is gone."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Create or replace an object."""

    def copy(self, source_key: str, target_key: str) -> None:
        """Server-side copy (quarantine keeps the original in place)."""


class S3ObjectStore:
    """A bucket in MinIO (or any S3 API). Connection failures become RetryableError."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _source(self, key: str, etag: str, size: int) -> SourceObject:
        def opener() -> BinaryIO:
            try:
                return self.client.get_object(self.bucket, key)  # type: ignore[return-value]
            except HTTPError as exc:
                raise RetryableError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
        return SourceObject(key=key, etag=etag.strip('"'), size=size, open=opener)

    def list(self, prefix: str) -> Iterator[SourceObject]:
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if not obj.is_dir:
                    yield self._source(obj.object_name, obj.etag or "", obj.size or 0)
        except HTTPError as exc:
            raise RetryableError(f"cannot list s3://{self.bucket}/{prefix}: {exc}") from exc

    def stat(self, key: str) -> SourceObject:
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise PermanentError(f"s3://{self.bucket}/{key} no longer exists", reason="object_missing") from exc
            raise RetryableError(f"cannot stat s3://{self.bucket}/{key}: {exc}") from exc
        except HTTPError as exc:
            raise RetryableError(f"cannot stat s3://{self.bucket}/{key}: {exc}") from exc
        return self._source(key, st.etag or "", st.size or 0)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        import io

        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except (HTTPError, S3Error) as exc:
            raise RetryableError(f"cannot write s3://{self.bucket}/{key}: {exc}") from exc

    def copy(self, source_key: str, target_key: str) -> None:
        try:
            self.client.copy_object(self.bucket, target_key, CopySource(self.bucket, source_key))
        except (HTTPError, S3Error) as exc:
            raise RetryableError(f"cannot copy s3://{self.bucket}/{source_key}: {exc}") from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalObjectStore:
    """A folder laid out like the bucket (embedded mode). The etag is the SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _source(self, path: Path) -> SourceObject:
        key = path.relative_to(self.root).as_posix()
        return SourceObject(key=key, etag=file_sha256(path), size=path.stat().st_size, open=lambda: path.open("rb"))

    def list(self, prefix: str) -> Iterator[SourceObject]:
        base = self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return
        for path in sorted(p for p in start.rglob("*") if p.is_file()):
            if path.relative_to(self.root).as_posix().startswith(prefix):
                yield self._source(path)

    def stat(self, key: str) -> SourceObject:
        path = self.root / key
        if not path.is_file():
            raise PermanentError(f"{path} no longer exists", reason="object_missing")
        return self._source(path)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def copy(self, source_key: str, target_key: str) -> None:
        target = self.root / target_key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / source_key, target)


def open_store(settings: Settings) -> ObjectStore:
    """The configured store: the landing folder when embedded, else the bucket."""
    if settings.mode == "embedded":
        private_dir(settings.state_dir)
        private_dir(settings.landing_dir)
        return LocalObjectStore(settings.landing_dir)
    from lakehouse.services.minio import minio_client

    return S3ObjectStore(minio_client(settings), settings.bucket)
