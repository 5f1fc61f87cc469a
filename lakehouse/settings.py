"""One frozen settings object per process, read from the environment (and ``.env``).

This is the only module that reads environment variables. Everything else gets a
``Settings`` (usually from :func:`get_settings`). Variables are prefixed
``LAKEHOUSE_``; credentials also accept the names MinIO itself uses, and Dremio's
are the ``DREMIO_*`` names dbt's profile (transformation/profiles.yml) reads.

Modes (``LAKEHOUSE_MODE``):

* ``embedded`` (default): local landing folder, watchdog, SQLite catalog, DuckDB.
* ``native``: MinIO, Kafka and Nessie run natively by ``lakehouse services up``.
* ``docker``: the same services from ``docker compose``; only endpoints differ.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from lakehouse.errors import ConfigurationError

MODES = ("embedded", "native", "docker")
EVENT_DELIVERIES = ("queued", "direct")


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


@dataclass(frozen=True)
class Settings:
    """Every knob of the lakehouse, with the defaults a laptop needs."""

    mode: str = "embedded"
    project_root: Path = field(default_factory=_project_root)
    # Downloads and builds (MinIO binary, jars) shared by every checkout on the machine.
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "lakehouse")
    # Data and logs of the native services, and the embedded warehouse.
    state_dir: Path = field(default_factory=lambda: _project_root() / ".lakehouse")

    host: str = "127.0.0.1"
    minio_port: int = 9000
    minio_console_port: int = 9001
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    nessie_port: int = 19120
    # Quarkus' management port defaults to 9000, which is MinIO's: move it.
    nessie_management_port: int = 19121

    # Credentials: development defaults, override through the environment or .env.
    s3_access_key: str = field(default="minioadmin", repr=False)
    s3_secret_key: str = field(default="minioadmin", repr=False)
    s3_region: str = "us-east-1"
    # Least-privilege MinIO users made by `lakehouse services up` and compose's
    # minio-init (deploy/init/minio.sh; the grants are explained in docs/deploy.md).
    listener_s3_access_key: str = "lakehouse-listener"
    listener_s3_secret_key: str = field(default="lakehouse-listener-dev-secret", repr=False)
    nessie_s3_access_key: str = "lakehouse-nessie"
    nessie_s3_secret_key: str = field(default="lakehouse-nessie-dev-secret", repr=False)
    # Which key the listener signs S3 requests with: `admin` (s3_access_key) or
    # `listener` (listener_s3_access_key, see Settings.for_listener).
    listener_credentials: str = "admin"

    bucket: str = "lakehouse"
    raw_prefix: str = "raw/"
    quarantine_prefix: str = "quarantine/"
    events_topic: str = "minio-events"
    dlq_topic: str = "minio-events.dlq"
    consumer_group: str = "lakehouse-listener"
    topic_partitions: int = 3
    # The MinIO notification target id: ARN arn:minio:sqs::<id>:kafka
    notify_target_id: str = "LAKEHOUSE"
    # How MinIO hands events to Kafka (EVENT_DELIVERIES): `queued` keeps them in an
    # on-disk queue that survives a broker outage (flushed on MinIO's 3 s tick);
    # `direct` sends at once with no queue, and the listener's periodic reconcile
    # (every 60 s by default in this mode) loads what a broker outage lost.
    event_delivery: str = "queued"

    nessie_branch: str = "main"
    # A JDK home to prefer for Nessie (needs Java 21+); found automatically if empty.
    java_home: str = ""
    bronze_namespace: str = "bronze"
    # Where dbt writes silver Iceberg tables on Nessie (tests isolate themselves with their own).
    silver_namespace: str = "silver"
    # How often bronze_sensor (Dagster) looks for new bronze snapshots.
    sensor_interval_seconds: int = 5

    # Dremio (docker compose; deploy/init/dremio.py makes this user on first start).
    dremio_host: str = "localhost"
    dremio_port: int = 9047
    dremio_user: str = "dremio"
    dremio_password: str = field(default="", repr=False)
    dremio_email: str = "dremio@lakehouse.local"
    # The key of Dremio's Nessie source; empty: the Nessie user's (warehouse only).
    dremio_s3_access_key: str = ""
    dremio_s3_secret_key: str = field(default="", repr=False)

    # Overrides for docker mode or remote services; derived from host/ports if empty.
    s3_endpoint_override: str = ""
    kafka_bootstrap_override: str = ""
    nessie_uri_override: str = ""

    # ---- derived values -------------------------------------------------------
    @property
    def s3_endpoint(self) -> str:
        """``http://host:port`` of the S3 API."""
        return self.s3_endpoint_override or f"http://{self.host}:{self.minio_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_override or f"{self.host}:{self.kafka_port}"

    @property
    def nessie_uri(self) -> str:
        """Base URL of the Nessie server (REST API v2 under /api/v2)."""
        return self.nessie_uri_override or f"http://{self.host}:{self.nessie_port}"

    @property
    def iceberg_rest_uri(self) -> str:
        """Nessie's Iceberg REST catalog endpoint for the configured branch."""
        return f"{self.nessie_uri}/iceberg/{self.nessie_branch}"

    @property
    def warehouse_uri(self) -> str:
        return f"s3://{self.bucket}/warehouse"

    @property
    def dremio_url(self) -> str:
        return f"http://{self.dremio_host}:{self.dremio_port}"

    @property
    def services_dir(self) -> Path:
        return self.state_dir / "services"

    @property
    def landing_dir(self) -> Path:
        """Embedded mode: the local folder laid out like the bucket (``raw/...``)."""
        return self.state_dir / "landing"

    @property
    def embedded_warehouse_dir(self) -> Path:
        return self.state_dir / "warehouse"

    @property
    def notify_arn(self) -> str:
        return f"arn:minio:sqs::{self.notify_target_id}:kafka"

    def for_listener(self) -> Settings:
        """These settings as the listener should use them: with its own key when
        ``listener_credentials`` is ``listener``, unchanged otherwise."""
        if self.listener_credentials != "listener":
            return self
        return replace(self, s3_access_key=self.listener_s3_access_key, s3_secret_key=self.listener_s3_secret_key)


# Environment variable -> Settings field. Several names may feed one field; the
# first one set wins (so MINIO_ROOT_USER works as well as LAKEHOUSE_S3_ACCESS_KEY).
_ENV_NAMES: dict[str, tuple[str, ...]] = {
    "mode": ("LAKEHOUSE_MODE",),
    "cache_dir": ("LAKEHOUSE_CACHE_DIR",),
    "state_dir": ("LAKEHOUSE_STATE_DIR",),
    "host": ("LAKEHOUSE_HOST",),
    "minio_port": ("LAKEHOUSE_MINIO_PORT",),
    "minio_console_port": ("LAKEHOUSE_MINIO_CONSOLE_PORT",),
    "kafka_port": ("LAKEHOUSE_KAFKA_PORT",),
    "kafka_controller_port": ("LAKEHOUSE_KAFKA_CONTROLLER_PORT",),
    "nessie_port": ("LAKEHOUSE_NESSIE_PORT",),
    "nessie_management_port": ("LAKEHOUSE_NESSIE_MANAGEMENT_PORT",),
    "s3_access_key": ("LAKEHOUSE_S3_ACCESS_KEY", "MINIO_ROOT_USER", "AWS_ACCESS_KEY_ID"),
    "s3_secret_key": ("LAKEHOUSE_S3_SECRET_KEY", "MINIO_ROOT_PASSWORD", "AWS_SECRET_ACCESS_KEY"),
    "s3_region": ("LAKEHOUSE_S3_REGION",),
    "listener_s3_access_key": ("LAKEHOUSE_LISTENER_ACCESS_KEY",),
    "listener_s3_secret_key": ("LAKEHOUSE_LISTENER_SECRET_KEY",),
    "nessie_s3_access_key": ("LAKEHOUSE_NESSIE_S3_ACCESS_KEY",),
    "nessie_s3_secret_key": ("LAKEHOUSE_NESSIE_S3_SECRET_KEY",),
    "listener_credentials": ("LAKEHOUSE_LISTENER_CREDENTIALS",),
    "bucket": ("LAKEHOUSE_BUCKET",),
    "events_topic": ("LAKEHOUSE_EVENTS_TOPIC",),
    "dlq_topic": ("LAKEHOUSE_DLQ_TOPIC",),
    "consumer_group": ("LAKEHOUSE_CONSUMER_GROUP",),
    "topic_partitions": ("LAKEHOUSE_TOPIC_PARTITIONS",),
    "event_delivery": ("LAKEHOUSE_EVENT_DELIVERY",),
    "nessie_branch": ("LAKEHOUSE_NESSIE_BRANCH",),
    "bronze_namespace": ("LAKEHOUSE_BRONZE_NAMESPACE",),
    "silver_namespace": ("LAKEHOUSE_SILVER_NAMESPACE",),
    "sensor_interval_seconds": ("LAKEHOUSE_SENSOR_INTERVAL_SECONDS",),
    "java_home": ("LAKEHOUSE_JAVA_HOME", "JAVA_HOME"),
    "dremio_host": ("DREMIO_HOST",),
    "dremio_port": ("DREMIO_PORT",),
    "dremio_user": ("DREMIO_USER",),
    "dremio_password": ("DREMIO_PASSWORD",),
    "dremio_email": ("DREMIO_EMAIL",),
    "dremio_s3_access_key": ("DREMIO_S3_ACCESS_KEY",),
    "dremio_s3_secret_key": ("DREMIO_S3_SECRET_KEY",),
    "s3_endpoint_override": ("LAKEHOUSE_S3_ENDPOINT",),
    "kafka_bootstrap_override": ("LAKEHOUSE_KAFKA_BOOTSTRAP",),
    "nessie_uri_override": ("LAKEHOUSE_NESSIE_URI",),
}


def _convert(name: str, raw: str, annotation: object) -> object:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "Path":
            return Path(raw).expanduser().resolve()
    except ValueError as exc:
        env = _ENV_NAMES[name][0]
        raise ConfigurationError(f"{env}={raw!r} is not a valid {kind}; fix it in the environment or .env") from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) over a ``.env`` file.

    Real environment variables win over ``.env`` (the twelve-factor rule), so CI
    can override a developer's file.
    """
    base = Settings()
    values = read_dotenv(dotenv if dotenv is not None else base.project_root / ".env")
    values.update(os.environ if environ is None else environ)
    types = {f.name: f.type for f in fields(Settings)}
    changes: dict[str, object] = {}
    for name, env_names in _ENV_NAMES.items():
        for env in env_names:
            if values.get(env):
                changes[name] = _convert(name, values[env], types[name])
                break
    settings = replace(base, **changes)  # type: ignore[arg-type]
    if settings.mode not in MODES:
        raise ConfigurationError(f"LAKEHOUSE_MODE={settings.mode!r} is unknown; use one of {', '.join(MODES)}")
    if settings.event_delivery not in EVENT_DELIVERIES:
        raise ConfigurationError(f"LAKEHOUSE_EVENT_DELIVERY={settings.event_delivery!r} is unknown; use one of {', '.join(EVENT_DELIVERIES)}")
    if settings.listener_credentials not in ("admin", "listener"):
        raise ConfigurationError(f"LAKEHOUSE_LISTENER_CREDENTIALS={settings.listener_credentials!r} is unknown; use admin or listener")
    return settings


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
