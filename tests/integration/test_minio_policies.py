"""The least-privilege MinIO users, made by deploy/init/minio.sh, against the real native MinIO.

docker compose's ``minio-init`` service and ``lakehouse services up`` run the same
script. The shared MinIO is used by other tests at the same time, so every test
here makes users and policies with names of its own (``test-<id>-listener``) for
its own bucket, and its listener's warehouse grant is narrowed to its own bronze
namespace folder (``lakehouse/warehouse/<namespace>/``, where Nessie puts its
tables); all of it is removed afterwards.

The listener's policy is what the code needs, not the issue's first sketch
("read raw/, write quarantine/, nothing else"): the listener also writes the
Iceberg data and manifest files under warehouse/ itself (pyiceberg signs with the
listener's key; Nessie does not hand out request signing), so it can read, write
and delete there. docs/deploy.md lists every grant and why.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from ingestion.catalog import open_catalog
from lakehouse.cli import mc_environment
from lakehouse.services.artifacts import mc_binary
from lakehouse.services.minio import INIT_SCRIPT, MinioService, minio_client
from lakehouse.settings import Settings
from tests.integration.listener.conftest import (
    PROJECT, ListenerProcess, free_port, listener_env, position_group_at_end, wait_for,
)

pytestmark = pytest.mark.integration

SAMPLE_STATIONS = PROJECT / "data" / "sample" / "raw" / "chargenet" / "stations" / "stations.json"


@dataclass(frozen=True)
class Principal:
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Init:
    """One run of the init script for a test: its settings, users and what it printed."""

    settings: Settings
    listener: Principal
    nessie: Principal
    warehouse_bucket: str
    warehouse_prefix: str
    env: dict[str, str]

    def client(self, who: Principal) -> Minio:
        return minio_client(dataclasses.replace(self.settings, s3_access_key=who.access_key, s3_secret_key=who.secret_key))


def script_env(settings: Settings, warehouse_bucket: str, warehouse_prefix: str, listener: Principal,
               nessie: Principal, mc: str) -> dict[str, str]:
    """The variables docker compose gives minio-init, for this test's names."""
    admin = mc_environment(settings)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MC": mc,
        "MC_HOST_local": admin["MC_HOST_local"],
        "MC_CONFIG_DIR": admin["MC_CONFIG_DIR"],
        "LAKEHOUSE_BUCKET": settings.bucket,
        "LAKEHOUSE_WAREHOUSE_BUCKET": warehouse_bucket,
        "LAKEHOUSE_WAREHOUSE_PREFIX": warehouse_prefix,
        "LAKEHOUSE_NOTIFY_ARN": settings.notify_arn,
        "LAKEHOUSE_LISTENER_ACCESS_KEY": listener.access_key,
        "LAKEHOUSE_LISTENER_SECRET_KEY": listener.secret_key,
        "LAKEHOUSE_NESSIE_S3_ACCESS_KEY": nessie.access_key,
        "LAKEHOUSE_NESSIE_S3_SECRET_KEY": nessie.secret_key,
    }


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False)


def mc(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(mc_binary(settings.cache_dir)), "--quiet", *args], env=mc_environment(settings),
                          capture_output=True, text=True, check=check)


def remove_principals(settings: Settings, *names: str) -> None:
    for name in names:
        mc(settings, "admin", "user", "rm", "local", name, check=False)
        mc(settings, "admin", "policy", "rm", "local", name, check=False)


def remove_prefix(client: Minio, bucket: str, prefix: str) -> None:
    objects = (DeleteObject(o.object_name) for o in client.list_objects(bucket, prefix=prefix, recursive=True))
    for _ in client.remove_objects(bucket, objects):
        pass


@pytest.fixture
def init(isolated_settings: Settings, native_settings: Settings, unique_suffix: str) -> Iterator[Init]:
    settings = isolated_settings
    listener = Principal(f"test-{unique_suffix}-listener", secrets.token_urlsafe(18))
    nessie = Principal(f"test-{unique_suffix}-nessie", secrets.token_urlsafe(18))
    # Nessie's warehouse is the real bucket's (its server config); a namespace's
    # tables go under warehouse/<namespace>/, so this test's grant covers its own only.
    warehouse_bucket = native_settings.warehouse_uri.removeprefix("s3://").split("/", 1)[0]
    warehouse_prefix = f"warehouse/{settings.bronze_namespace}/"
    env = script_env(settings, warehouse_bucket, warehouse_prefix, listener, nessie, str(mc_binary(settings.cache_dir)))
    try:
        result = run_script(env)
        assert result.returncode == 0, result.stderr
        yield Init(settings, listener, nessie, warehouse_bucket, warehouse_prefix, env)
    finally:
        remove_principals(settings, listener.access_key, nessie.access_key)
        remove_prefix(minio_client(settings), warehouse_bucket, warehouse_prefix)


def denied(action: Callable[[], object]) -> bool:
    try:
        result = action()
        if hasattr(result, "__next__"):
            list(result)  # type: ignore[call-overload]
    except S3Error as exc:
        return exc.code == "AccessDenied"
    return False


def put(client: Minio, bucket: str, key: str, data: bytes = b"x") -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def test_the_listener_user_reads_raw_and_writes_quarantine_and_the_warehouse_only(init: Init) -> None:
    admin, listener = minio_client(init.settings), init.client(init.listener)
    bucket = init.settings.bucket
    put(admin, bucket, "raw/ecoride/sales/a.csv", b"sale_id\n1\n")
    put(admin, bucket, "quarantine/raw/old.csv", b"old")
    put(admin, bucket, "elsewhere/secret.txt", b"no")

    assert listener.get_object(bucket, "raw/ecoride/sales/a.csv").read() == b"sale_id\n1\n"
    assert [o.object_name for o in listener.list_objects(bucket, prefix="raw/", recursive=True)] == ["raw/ecoride/sales/a.csv"]
    listener.copy_object(bucket, "quarantine/raw/ecoride/sales/a.csv", CopySource(bucket, "raw/ecoride/sales/a.csv"))
    put(listener, bucket, "quarantine/raw/ecoride/sales/a.csv.error.json", b"{}")
    data_file = f"{init.warehouse_prefix}t/data/part-0.parquet"
    put(listener, init.warehouse_bucket, data_file, b"PAR1")
    assert listener.get_object(init.warehouse_bucket, data_file).read() == b"PAR1"
    listener.remove_object(init.warehouse_bucket, data_file)

    assert denied(lambda: put(listener, bucket, "raw/ecoride/sales/forged.csv"))
    assert denied(lambda: listener.remove_object(bucket, "raw/ecoride/sales/a.csv"))
    assert denied(lambda: listener.get_object(bucket, "quarantine/raw/old.csv"))
    assert denied(lambda: listener.list_objects(bucket, prefix="quarantine/", recursive=True))
    assert denied(lambda: listener.list_objects(bucket, recursive=True))
    assert denied(lambda: listener.get_object(bucket, "elsewhere/secret.txt"))
    assert denied(lambda: put(listener, bucket, "elsewhere/new.txt"))
    assert denied(lambda: put(listener, init.warehouse_bucket, "warehouse/someone_else/t/data/x.parquet"))
    assert denied(lambda: listener.list_objects(init.warehouse_bucket, prefix=init.warehouse_prefix, recursive=True))
    assert denied(lambda: listener.get_bucket_notification(bucket))
    assert denied(lambda: listener.make_bucket(f"{bucket}-other"))


def test_the_nessie_user_is_confined_to_the_warehouse(init: Init) -> None:
    admin, nessie = minio_client(init.settings), init.client(init.nessie)
    bucket = init.settings.bucket
    put(admin, bucket, "raw/ecoride/sales/a.csv")
    metadata = f"{init.warehouse_prefix}t/metadata/00000-x.metadata.json"

    put(nessie, init.warehouse_bucket, metadata, b"{}")
    assert nessie.get_object(init.warehouse_bucket, metadata).read() == b"{}"
    assert [o.object_name for o in nessie.list_objects(init.warehouse_bucket, prefix=init.warehouse_prefix, recursive=True)] == [metadata]
    nessie.remove_object(init.warehouse_bucket, metadata)

    assert denied(lambda: nessie.get_object(bucket, "raw/ecoride/sales/a.csv"))
    assert denied(lambda: nessie.list_objects(bucket, prefix="raw/", recursive=True))
    assert denied(lambda: put(nessie, bucket, "raw/ecoride/sales/forged.csv"))
    assert denied(lambda: put(nessie, bucket, "quarantine/x"))
    assert denied(lambda: put(nessie, init.warehouse_bucket, "warehouse/someone_else/t/metadata/x.json"))


def test_running_the_script_again_changes_nothing(init: Init) -> None:
    again = run_script(init.env)

    assert again.returncode == 0, again.stderr
    assert "already set" in again.stdout
    assert f"user {init.listener.access_key} has policy {init.listener.access_key}" in again.stdout
    rules = mc(init.settings, "event", "ls", f"local/{init.settings.bucket}").stdout.strip().splitlines()
    assert len(rules) == 1 and 'prefix="raw/"' in rules[0], rules
    put(minio_client(init.settings), init.settings.bucket, "raw/x.csv")
    assert init.client(init.listener).get_object(init.settings.bucket, "raw/x.csv").read() == b"x"


def test_secrets_never_appear_on_a_command_line_or_in_the_output(init: Init, tmp_path: Path) -> None:
    # A stand-in mc that records every argv, then runs the real one.
    argv_log = tmp_path / "argv.log"
    shim = tmp_path / "mc"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{argv_log}"\nexec "{init.env["MC"]}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)

    result = run_script(dict(init.env, MC=str(shim)))

    assert result.returncode == 0, result.stderr
    recorded = argv_log.read_text()
    assert "admin user add" in recorded
    admin_secret = init.settings.s3_secret_key
    for secret in (init.listener.secret_key, init.nessie.secret_key, admin_secret):
        assert secret not in recorded
        assert secret not in result.stdout + result.stderr


def test_the_script_refuses_to_run_without_the_users_secrets(init: Init) -> None:
    env = {k: v for k, v in init.env.items() if k != "LAKEHOUSE_LISTENER_SECRET_KEY"}

    result = run_script(env)

    assert result.returncode != 0
    assert "LAKEHOUSE_LISTENER_SECRET_KEY" in result.stderr


def test_services_up_creates_the_users_named_in_the_settings(isolated_settings: Settings, unique_suffix: str) -> None:
    settings = dataclasses.replace(
        isolated_settings,
        listener_s3_access_key=f"test-{unique_suffix}-listener", listener_s3_secret_key=secrets.token_urlsafe(18),
        nessie_s3_access_key=f"test-{unique_suffix}-nessie", nessie_s3_secret_key=secrets.token_urlsafe(18),
    )
    try:
        MinioService(settings).configure(users=True)
        listener = minio_client(dataclasses.replace(settings, listener_credentials="listener").for_listener())
        put(minio_client(settings), settings.bucket, "raw/a.csv")

        assert listener.get_object(settings.bucket, "raw/a.csv").read() == b"x"
        assert denied(lambda: put(listener, settings.bucket, "raw/forged.csv"))
        info = json.loads(mc(settings, "admin", "user", "info", "local", settings.nessie_s3_access_key, "--json").stdout)
        assert info["policyName"] == settings.nessie_s3_access_key
    finally:
        remove_principals(settings, settings.listener_s3_access_key, settings.nessie_s3_access_key)


class OwnKeyListener(ListenerProcess):
    """``python -m listener`` signing its S3 requests with the listener user's key.

    The key reaches it the way ``lakehouse up --services native`` and compose give
    it (``LAKEHOUSE_LISTENER_CREDENTIALS=listener`` plus the user's key, see
    ``Settings.for_listener``), while the admin key in its environment is a wrong
    one: a listener that signed with anything but its own key would be refused.
    """

    def __init__(self, settings: Settings, log_path: Path, who: Principal) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("ab")
        env = dict(listener_env(settings), LAKEHOUSE_LISTENER_CREDENTIALS="listener",
                   LAKEHOUSE_LISTENER_ACCESS_KEY=who.access_key, LAKEHOUSE_LISTENER_SECRET_KEY=who.secret_key,
                   LAKEHOUSE_S3_ACCESS_KEY="not-the-admin", LAKEHOUSE_S3_SECRET_KEY="not-the-admin-secret")
        env.pop("MINIO_ROOT_USER", None), env.pop("MINIO_ROOT_PASSWORD", None)
        argv = [sys.executable, "-m", "listener", "--metrics-port", str(self.port)]
        self.proc = subprocess.Popen(argv, env=env, cwd=PROJECT, stdout=self._log, stderr=subprocess.STDOUT)


def test_the_listener_loads_and_quarantines_end_to_end_with_its_own_key(init: Init, tmp_path: Path) -> None:
    settings = init.settings
    position_group_at_end(settings)
    listener = OwnKeyListener(settings, tmp_path / "listener.log", init.listener)
    try:
        listener.wait_consuming()
        admin = minio_client(settings)
        put(admin, settings.bucket, "raw/chargenet/stations/stations.json", SAMPLE_STATIONS.read_bytes())
        put(admin, settings.bucket, "raw/chargenet/stations/broken.json", b"{not json")

        table = f"{settings.bronze_namespace}.chargenet_stations"
        catalog = open_catalog(settings)
        rows = wait_for("stations in bronze", lambda: catalog.table_exists(table)
                        and catalog.load_table(table).scan().to_arrow().num_rows, timeout=90, describe=listener.log)
        report = wait_for("the quarantine report", lambda: _object(
            admin, settings.bucket, "quarantine/raw/chargenet/stations/broken.json.error.json"), timeout=60, describe=listener.log)

        assert rows == len(json.loads(SAMPLE_STATIONS.read_bytes()))
        assert json.loads(report)["reason"] == "parse_error"
        assert _object(admin, settings.bucket, "quarantine/raw/chargenet/stations/broken.json") == b"{not json"
        assert "AccessDenied" not in listener.log() and "InvalidAccessKeyId" not in listener.log()
    finally:
        listener.close()


def _object(client: Minio, bucket: str, key: str) -> bytes | None:
    try:
        return client.get_object(bucket, key).read()
    except S3Error:
        return None
