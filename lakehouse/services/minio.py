"""MinIO server (built from source) with a Kafka notification target and an on-disk queue."""

from __future__ import annotations

import logging

import requests
from minio import Minio
from minio.notificationconfig import NotificationConfig, PrefixFilterRule, QueueConfig

from lakehouse.services import artifacts
from lakehouse.services.base import LaunchSpec, NativeService
from lakehouse.settings import Settings
from lakehouse.state import private_dir

log = logging.getLogger(__name__)

NOTIFICATION_ID = "raw-objects-to-kafka"


def minio_client(settings: Settings) -> Minio:
    """An S3 client for the configured endpoint (plain HTTP unless it says https)."""
    endpoint = settings.s3_endpoint
    secure = endpoint.startswith("https://")
    return Minio(
        endpoint.split("://", 1)[-1],
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=secure,
        region=settings.s3_region,
    )


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
        private_dir(self.queue_dir)
        target = s.notify_target_id
        env = self.base_env() | {
            "MINIO_ROOT_USER": s.s3_access_key,
            "MINIO_ROOT_PASSWORD": s.s3_secret_key,
            "MINIO_REGION": s.s3_region,
            "MINIO_BROWSER": "on",
            "MINIO_UPDATE": "off",
            # The Kafka target. QUEUE_DIR (absolute) persists events while the broker
            # is down and replays them when it returns: "nothing lost" depends on it.
            f"MINIO_NOTIFY_KAFKA_ENABLE_{target}": "on",
            f"MINIO_NOTIFY_KAFKA_BROKERS_{target}": s.kafka_bootstrap,
            f"MINIO_NOTIFY_KAFKA_TOPIC_{target}": s.events_topic,
            f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}": str(self.queue_dir.resolve()),
            f"MINIO_NOTIFY_KAFKA_QUEUE_LIMIT_{target}": "100000",
        }
        argv = [
            str(binary), "server", str(self.data_dir),
            "--address", f"{s.host}:{s.minio_port}",
            "--console-address", f"{s.host}:{s.minio_console_port}",
            "--quiet",
        ]
        return LaunchSpec(argv=argv, env=env, cwd=self.process.run_dir)

    def healthy(self) -> bool:
        url = f"{self.settings.s3_endpoint}/minio/health/ready"
        return requests.get(url, timeout=2).status_code == 200

    def configure(self) -> None:
        """Create the bucket and route ``raw/`` object-created events to Kafka (idempotent)."""
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
        client.set_bucket_notification(s.bucket, config)

    def endpoint(self) -> str:
        s = self.settings
        return f"S3 {s.s3_endpoint}  console http://{s.host}:{s.minio_console_port}"

    def ports(self) -> tuple[int, ...]:
        return (self.settings.minio_port, self.settings.minio_console_port)
