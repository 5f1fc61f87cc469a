"""Object storage behind one small interface: the MinIO bucket or a local folder.

The listener's replay, the loaders and quarantine only talk to ``ObjectStore``,
so embedded mode (a landing folder) and the native/docker modes (a bucket)
share every other line of code.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from lakehouse.errors import PermanentError, RetryableError
from lakehouse.reasons import OBJECT_MISSING
from lakehouse.settings import Settings
from lakehouse.state import private_dir
from ingestion.source import SourceObject


class ObjectStore(Protocol):
    """The few storage operations the lakehouse needs."""

    def list(self, prefix: str) -> Iterator[SourceObject]:
        """Every object under ``prefix`` (recursive), in key order."""

    def stat(self, key: str) -> SourceObject:
        """The current version of one object; PermanentError if it is gone."""

    def reachable(self) -> bool:
        """Whether the store answers right now (one cheap request, no retries)."""

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Create or replace an object."""

    def copy(self, source_key: str, target_key: str) -> None:
        """Server-side copy (quarantine keeps the original in place)."""


class S3ObjectStore:
    """A bucket in MinIO (or any S3 API). Connection failures become RetryableError."""

    remote = True  # every read waits on the network: the loader reads small files ahead (ingestion.readahead)

    def __init__(self, client: Minio, bucket: str, probe_client: Minio | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.probe_client = probe_client or client  # best without retries: see minio_client(probe=True)

    def reachable(self) -> bool:
        try:
            self.probe_client.bucket_exists(self.bucket)
        except S3Error as exc:
            # The server answered. A refusal (a least-privilege key may not HEAD the bucket) is
            # an answer too; a 5xx (still starting, overloaded) is not.
            return getattr(exc.response, "status", 500) < 500
        except (HTTPError, OSError, ValueError):
            return False
        return True

    def _source(self, key: str, etag: str, size: int, version_id: str | None = None) -> SourceObject:
        etag = etag.strip('"')

        def opener() -> BinaryIO:
            # Read exactly the version that was listed or stat'ed: by version id in a
            # versioned bucket, else only while the ETag still matches (a 412 otherwise).
            pin = {"version_id": version_id} if version_id else {"request_headers": {"If-Match": f'"{etag}"'}}
            try:
                return self.client.get_object(self.bucket, key, **pin)  # type: ignore[return-value]
            except S3Error as exc:
                if exc.code in ("PreconditionFailed", "NoSuchKey", "NoSuchObject", "NoSuchVersion"):
                    raise PermanentError(f"s3://{self.bucket}/{key} version {etag} is gone (overwritten or deleted "
                                         "since it was listed); a newer version loads under its own etag",
                                         reason=OBJECT_MISSING) from exc
                raise RetryableError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
            except HTTPError as exc:
                raise RetryableError(f"cannot read s3://{self.bucket}/{key}: {exc}") from exc
        return SourceObject(key=key, etag=etag, size=size, open=opener)

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
                raise PermanentError(f"s3://{self.bucket}/{key} no longer exists", reason=OBJECT_MISSING) from exc
            raise RetryableError(f"cannot stat s3://{self.bucket}/{key}: {exc}") from exc
        except HTTPError as exc:
            raise RetryableError(f"cannot stat s3://{self.bucket}/{key}: {exc}") from exc
        return self._source(key, st.etag or "", st.size or 0, st.version_id if st.version_id != "null" else None)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
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


class _HashingReader(io.RawIOBase):
    """A file read that hashes exactly the bytes it hands out (each byte once)."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("rb")
        self._digest = hashlib.sha256()
        self.hexdigest: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)
        if n:
            self._digest.update(memoryview(buffer)[:n])
        return n or 0

    def finish(self) -> str:
        """Hash what the reader left unread too, and close; the digest of the version read."""
        if self.hexdigest is None:
            if not self._handle.closed:
                for block in iter(lambda: self._handle.read(1 << 20), b""):
                    self._digest.update(block)
                self._handle.close()
            self.hexdigest = self._digest.hexdigest()
        return self.hexdigest

    def close(self) -> None:
        self.finish()
        super().close()


class LocalObjectStore:
    """A folder laid out like the bucket (embedded mode). The etag is the SHA-256.

    Listing does not read files: a file's hash is cached by (path, size,
    mtime) — in ``hash_cache`` (SQLite) across restarts — and computed only
    for a version not seen before. A load hashes the
    bytes it reads and checks them against the etag (``SourceObject.verify``),
    so a file overwritten between the listing and the read is never loaded
    under the older etag.
    """

    def __init__(self, root: Path, hash_cache: Path | None = None) -> None:
        self.root = root
        self._hashes: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if hash_cache is not None:  # survives restarts: the start-up reconcile reads no file it knows
            self._db = sqlite3.connect(str(hash_cache), check_same_thread=False)
            self._db.execute("PRAGMA synchronous=OFF")  # a cache: losing it costs a re-hash, nothing else
            self._db.execute("CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                             "mtime_ns INTEGER, sha256 TEXT)")
            for path, size, mtime_ns, sha in self._db.execute("SELECT path, size, mtime_ns, sha256 FROM hashes"):
                self._hashes[Path(path)] = (size, mtime_ns, sha)

    def _etag(self, path: Path, st: os.stat_result) -> str:
        with self._lock:
            cached = self._hashes.get(path)
        if cached is not None and cached[:2] == (st.st_size, st.st_mtime_ns):
            return cached[2]
        etag = file_sha256(path)
        with self._lock:
            self._hashes[path] = (st.st_size, st.st_mtime_ns, etag)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)",
                                 (str(path), st.st_size, st.st_mtime_ns, etag))
                self._db.commit()
        return etag

    def _source(self, path: Path) -> SourceObject:
        key = path.relative_to(self.root).as_posix()
        st = path.stat()
        etag = self._etag(path, st)
        readers: list[_HashingReader] = []

        def opener() -> BinaryIO:
            reader = _HashingReader(path)
            readers.append(reader)
            return reader  # type: ignore[return-value]

        def verify() -> None:
            for reader in readers:
                if reader.finish() != etag:
                    raise PermanentError(f"{path} changed while it was loaded (its content is no longer version "
                                         f"{etag[:12]}); the new version loads under its own etag",
                                         reason=OBJECT_MISSING)
        return SourceObject(key=key, etag=etag, size=st.st_size, open=opener, verify=verify)

    def list(self, prefix: str) -> Iterator[SourceObject]:
        base = self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return
        for path in sorted(p for p in start.rglob("*") if p.is_file()):
            if path.relative_to(self.root).as_posix().startswith(prefix):
                try:
                    yield self._source(path)
                except FileNotFoundError:
                    continue  # deleted while listing

    def reachable(self) -> bool:
        return self.root.is_dir()

    def stat(self, key: str) -> SourceObject:
        path = self.root / key
        try:
            return self._source(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise PermanentError(f"{path} no longer exists", reason=OBJECT_MISSING) from exc

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
        return LocalObjectStore(settings.landing_dir, hash_cache=settings.state_dir / "landing-hashes.sqlite")
    from lakehouse.services.minio import minio_client

    return S3ObjectStore(minio_client(settings), settings.bucket, probe_client=minio_client(settings, probe=True))
