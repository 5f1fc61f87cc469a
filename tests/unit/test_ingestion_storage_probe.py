"""S3ObjectStore.reachable(): what counts as "the store answers" for the listener's outage probe."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from minio.error import S3Error
from urllib3.exceptions import NewConnectionError

from ingestion.storage import S3ObjectStore


class _Client:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def bucket_exists(self, bucket: str) -> bool:
        if self.error is not None:
            raise self.error
        return True


def _s3_error(status: int, code: str) -> S3Error:
    return S3Error(SimpleNamespace(status=status), code, code, "/lakehouse", "req", "host")  # type: ignore[arg-type]


@pytest.mark.parametrize(("error", "answers"), [
    (None, True),
    # The listener's least-privilege key may not HEAD the bucket: a refusal is still an answer.
    (_s3_error(403, "AccessDenied"), True),
    (_s3_error(503, "XMinioServerNotInitialized"), False),  # starting: not up yet
    (NewConnectionError(None, "connection refused"), False),  # type: ignore[arg-type]
    (ConnectionRefusedError(111, "refused"), False),
])
def test_reachable_means_the_server_answered_without_a_server_error(error: BaseException | None, answers: bool) -> None:
    store = S3ObjectStore(_Client(error), "lakehouse")  # type: ignore[arg-type]
    assert store.reachable() is answers
