"""MinIO server (built from source) with a Kafka notification target, queued on disk or direct."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import requests
import urllib3
from minio import Minio
from minio.error import S3Error
from minio.notificationconfig import NotificationConfig, PrefixFilterRule, QueueConfig

from lakehouse.errors import ServiceError
from lakehouse.services import artifacts
from lakehouse.services.base import LaunchSpec, NativeService
from lakehouse.settings import Settings, get_settings
from lakehouse.state import private_dir

log = logging.getLogger(__name__)

NOTIFICATION_ID = "raw-objects-to-kafka"
TARGET_WAIT_SECONDS = 30.0  # how long MinIO may take to bring its Kafka target online after it answers
# The one definition of the least-privilege users; docker compose's minio-init runs it too.
INIT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "init" / "minio.sh"


def minio_client(settings: Settings, *, probe: bool = False) -> Minio:
    """An S3 client for the configured endpoint (plain HTTP unless it says https).

    ``probe``: no retries and a 2 s timeout, for asking whether the store answers
    right now (the default client retries for seconds, which hides a short outage).
    """
    endpoint = settings.s3_endpoint
    secure = endpoint.startswith("https://")
    http_client = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=2), retries=False, maxsize=1) if probe else None
    return Minio(
        endpoint.split("://", 1)[-1],
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=secure,
        region=settings.s3_region,
        http_client=http_client,
    )


def init_script_env(settings: Settings, mc: Path) -> dict[str, str]:
    """Environment for deploy/init/minio.sh: admin alias ``local`` and the users' keys.

    Everything secret travels in the environment (never argv, which ``ps`` shows).
    """
    scheme, _, hostport = settings.s3_endpoint.partition("://")
    user, secret = quote(settings.s3_access_key, safe=""), quote(settings.s3_secret_key, safe="")
    warehouse_bucket, _, warehouse_path = settings.warehouse_uri.removeprefix("s3://").partition("/")
    return {
        "MC": str(mc),
        "MC_HOST_local": f"{scheme}://{user}:{secret}@{hostport}",
        "MC_CONFIG_DIR": str(settings.services_dir / "mc"),
        "LAKEHOUSE_BUCKET": settings.bucket,
        "LAKEHOUSE_RAW_PREFIX": settings.raw_prefix,
        "LAKEHOUSE_QUARANTINE_PREFIX": settings.quarantine_prefix,
        "LAKEHOUSE_WAREHOUSE_BUCKET": warehouse_bucket,
        "LAKEHOUSE_WAREHOUSE_PREFIX": warehouse_path.rstrip("/") + "/",
        "LAKEHOUSE_NOTIFY_ARN": settings.notify_arn,
        "LAKEHOUSE_EVENT_DELIVERY": settings.event_delivery,
        "LAKEHOUSE_LISTENER_ACCESS_KEY": settings.listener_s3_access_key,
        "LAKEHOUSE_LISTENER_SECRET_KEY": settings.listener_s3_secret_key,
        "LAKEHOUSE_NESSIE_S3_ACCESS_KEY": settings.nessie_s3_access_key,
        "LAKEHOUSE_NESSIE_S3_SECRET_KEY": settings.nessie_s3_secret_key,
    }


class MinioService(NativeService):
    name = "minio"
    start_timeout = 60.0

    @property
    def queue_dir(self):  # noqa: ANN201 - Path
        return self.process.run_dir / "events-queue"

    def prepare(self) -> LaunchSpec:
        s = self.settings
        binary = artifacts.minio_binary(s.cache_dir)
        artifacts.mc_binary(s.cache_dir)  # users and tests drive the bucket with mc too
        private_dir(self.data_dir)
        if s.event_delivery == "queued":
            private_dir(self.queue_dir)
        argv = [
            str(binary), "server", str(self.data_dir),
            "--address", f"{s.host}:{s.minio_port}",
            "--console-address", f"{s.host}:{s.minio_console_port}",
            "--quiet",
        ]
        return LaunchSpec(argv=argv, env=self.base_env() | self.server_env(), cwd=self.process.run_dir)

    def server_env(self) -> dict[str, str]:
        """MinIO's own settings: root user, region, the Kafka notification target."""
        s = self.settings
        target = s.notify_target_id
        return {
            "MINIO_ROOT_USER": s.s3_access_key,
            "MINIO_ROOT_PASSWORD": s.s3_secret_key,
            "MINIO_REGION": s.s3_region,
            "MINIO_BROWSER": "on",
            "MINIO_UPDATE": "off",
            # Hold S3 requests until the bucket notification rules are loaded: without it
            # MinIO answers while it still loads them in the background after a restart,
            # and a PUT in that window raises no event (minio/minio#17182).
            "MINIO_SYNC_BOOT": "on",
            f"MINIO_NOTIFY_KAFKA_ENABLE_{target}": "on",
            f"MINIO_NOTIFY_KAFKA_BROKERS_{target}": s.kafka_bootstrap,
            f"MINIO_NOTIFY_KAFKA_TOPIC_{target}": s.events_topic,
        } | self.delivery_env()

    def delivery_env(self) -> dict[str, str]:
        """The Kafka target's queue settings for ``settings.event_delivery``.

        ``queued``: QUEUE_DIR (absolute) persists events while the broker is down
        and replays them when it returns, but MinIO flushes that queue on a fixed
        3 s tick, which sets the freshness floor. ``direct``: no queue, each event
        is sent when the object is written; an event the broker missed is gone,
        and the listener's periodic reconcile (60 s by default in this mode,
        listener.config.ListenerConfig.for_settings) loads its file instead.
        """
        if self.settings.event_delivery == "direct":
            return {}
        target = self.settings.notify_target_id
        return {
            f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}": str(self.queue_dir.resolve()),
            f"MINIO_NOTIFY_KAFKA_QUEUE_LIMIT_{target}": "100000",
        }

    def healthy(self) -> bool:
        url = f"{self.settings.s3_endpoint}/minio/health/ready"
        return requests.get(url, timeout=2).status_code == 200

    def configure(self, users: bool | None = None) -> None:
        """Create the bucket and route ``raw/`` object-created events to Kafka (idempotent).

        With ``users`` (default: only for the deployment's own bucket, so the tests'
        per-test buckets never rewrite the real policies) also the least-privilege
        users and policies, see :meth:`configure_users`.
        """
        s = self.settings
        client = minio_client(s)
        if not client.bucket_exists(s.bucket):
            client.make_bucket(s.bucket)
            log.info("created bucket %s", s.bucket)
        config = NotificationConfig(
            queue_config_list=[
                QueueConfig(
                    ["s3:ObjectCreated:*"],
                    queue=s.notify_arn,
                    config_id=NOTIFICATION_ID,
                    prefix_filter_rule=PrefixFilterRule(s.raw_prefix),
                )
            ]
        )
        set_notification(client, s.bucket, config)
        if users is None:
            users = s.bucket == get_settings().bucket
        if users:
            self.configure_users()

    def configure_users(self) -> None:
        """Run deploy/init/minio.sh: the listener's and Nessie's users and policies (idempotent)."""
        s = self.settings
        if not INIT_SCRIPT.is_file():
            raise ServiceError(f"{INIT_SCRIPT} is missing; run the services from a checkout of the project")
        env = self.base_env() | init_script_env(s, artifacts.mc_binary(s.cache_dir))
        proc = subprocess.run(["/bin/sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
            raise ServiceError(f"MinIO user setup ({INIT_SCRIPT.name}) failed (exit {proc.returncode}):\n{tail}")
        log.info("MinIO users %s and %s ready", s.listener_s3_access_key, s.nessie_s3_access_key)

    def endpoint(self) -> str:
        s = self.settings
        return f"S3 {s.s3_endpoint}  console http://{s.host}:{s.minio_console_port}"

    def ports(self) -> tuple[int, ...]:
        return (self.settings.minio_port, self.settings.minio_console_port)


def set_notification(client: Minio, bucket: str, config: NotificationConfig,
                     wait: float = TARGET_WAIT_SECONDS, pause: float = 0.5) -> None:
    """``set_bucket_notification``, retried while MinIO's Kafka target is not online yet.

    MinIO answers its health check before it has connected to the broker; until
    then it rejects the rule ("A specified destination ARN does not exist",
    InvalidArgument). Seen in CI right after a start: retry for ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            client.set_bucket_notification(bucket, config)
            return
        except S3Error as exc:
            if exc.code != "InvalidArgument" or "ARN" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise ServiceError(f"MinIO did not bring its Kafka notification target online within {wait:g} s "
                                   f"(is the broker reachable from MinIO?): {exc.message}") from exc
            log.debug("MinIO's Kafka target is not online yet; retrying the bucket notification")
            time.sleep(pause)
