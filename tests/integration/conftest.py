"""Fixtures for tests against the real native services (MinIO, Kafka, Nessie).

The ``services`` fixture makes sure the stack runs (starting it with the
project's own service manager if needed). When it cannot, the tests FAIL under
``CI=true`` and are skipped with the reason elsewhere, so a laptop without Go or
Java can still run the unit suite while CI can never pass by skipping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from minio import Minio
from pyiceberg.catalog import Catalog

from lakehouse.errors import LakehouseError
from lakehouse.services.manager import ServiceManager
from lakehouse.services.minio import MinioService, minio_client
from lakehouse.settings import Settings
from tests.conftest import running_in_ci


def _unavailable(reason: str) -> None:
    if running_in_ci():
        pytest.fail(f"services unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"services unavailable ({reason}); run `lakehouse services up`")


@pytest.fixture(scope="session")
def native_settings(base_settings: Settings) -> Settings:
    return dataclasses.replace(base_settings, mode="native")


@pytest.fixture(scope="session")
def service_manager(native_settings: Settings) -> ServiceManager:
    return ServiceManager(native_settings)


@pytest.fixture(scope="session")
def services(service_manager: ServiceManager) -> ServiceManager:
    """The running stack; started here if it is not running yet."""
    try:
        statuses = service_manager.up()
    except LakehouseError as exc:
        _unavailable(str(exc))
    unhealthy = [s.name for s in statuses if not s.healthy]
    if unhealthy:
        _unavailable(f"not healthy: {', '.join(unhealthy)}")
    return service_manager


@pytest.fixture
def s3(services: ServiceManager, native_settings: Settings) -> Minio:
    return minio_client(native_settings)


@pytest.fixture
def isolated_settings(services: ServiceManager, native_settings: Settings, unique_suffix: str) -> Iterator[Settings]:
    """Settings with a bucket, bronze namespace and consumer group of this test's own.

    The bucket gets the same `raw/` -> Kafka notification as the real one, so
    tests see real events, but listeners filter by bucket and never see each
    other's files.
    """
    settings = dataclasses.replace(
        native_settings,
        bucket=f"test-{unique_suffix}",
        bronze_namespace=f"bronze_{unique_suffix}",
        consumer_group=f"test-{unique_suffix}",
    )
    MinioService(settings).configure()
    yield settings
    _drop_test_data(settings)


def drop_namespace(catalog: Catalog, namespace: str) -> None:
    """Best-effort: drop a test's namespace and its tables (a service may be down on purpose)."""
    try:
        if catalog.namespace_exists(namespace):
            for identifier in catalog.list_tables(namespace):
                catalog.purge_table(identifier)
            catalog.drop_namespace(namespace)
    except Exception:  # noqa: BLE001 - cleanup must never fail a test
        pass


def _drop_test_data(settings: Settings) -> None:
    """Remove the test's namespace and bucket so repeated runs do not pile up data."""
    from minio.deleteobjects import DeleteObject

    from ingestion.catalog import open_catalog

    try:
        drop_namespace(open_catalog(settings), settings.bronze_namespace)
        client = minio_client(settings)
        objects = (DeleteObject(o.object_name) for o in client.list_objects(settings.bucket, recursive=True))
        for _ in client.remove_objects(settings.bucket, objects):
            pass
        client.remove_bucket(settings.bucket)
    except Exception:  # noqa: BLE001 - best-effort cleanup; a service may be down on purpose
        pass
