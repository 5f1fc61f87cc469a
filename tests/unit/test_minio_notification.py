"""The bucket notification is retried while MinIO's Kafka target comes online (logic only).

A fake client stands in for MinIO here; the real start-up is exercised by
tests/integration/run_it/test_lakehouse_up_native.py and test_native_services.py.
"""

from __future__ import annotations

import pytest
from minio.error import S3Error
from minio.notificationconfig import NotificationConfig

from lakehouse.errors import ServiceError
from lakehouse.services.minio import set_notification

ARN_MISSING = "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN."


def _error(code: str, message: str) -> S3Error:
    return S3Error(None, code, message, "/lakehouse", "request", "host", bucket_name="lakehouse")


class _Client:
    def __init__(self, failures: list[S3Error]) -> None:
        self.failures, self.calls = failures, 0

    def set_bucket_notification(self, bucket: str, config: NotificationConfig) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


def test_a_target_not_online_yet_is_retried_until_minio_accepts_the_rule() -> None:
    client = _Client([_error("InvalidArgument", ARN_MISSING)] * 3)
    set_notification(client, "lakehouse", NotificationConfig(), wait=5, pause=0.01)  # type: ignore[arg-type]
    assert client.calls == 4


def test_a_target_that_never_comes_online_is_a_clear_service_error() -> None:
    client = _Client([_error("InvalidArgument", ARN_MISSING)] * 1000)
    with pytest.raises(ServiceError, match="Kafka notification target online"):
        set_notification(client, "lakehouse", NotificationConfig(), wait=0.05, pause=0.01)  # type: ignore[arg-type]


def test_other_errors_are_not_retried() -> None:
    client = _Client([_error("AccessDenied", "Access Denied.")])
    with pytest.raises(S3Error):
        set_notification(client, "lakehouse", NotificationConfig(), wait=5, pause=0.01)  # type: ignore[arg-type]
    assert client.calls == 1
