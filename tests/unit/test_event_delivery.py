"""LAKEHOUSE_EVENT_DELIVERY: MinIO's Kafka target with its on-disk queue (queued) or without (direct)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.errors import ConfigurationError
from lakehouse.services.minio import MinioService
from lakehouse.settings import Settings, load_settings
from listener.config import DIRECT_RECONCILE_INTERVAL_S, ListenerConfig


def test_queued_is_the_default_and_direct_is_read_from_the_environment(tmp_path: Path) -> None:
    assert load_settings({}, dotenv=tmp_path / "none").event_delivery == "queued"
    assert load_settings({"LAKEHOUSE_EVENT_DELIVERY": "direct"}, dotenv=tmp_path / "none").event_delivery == "direct"


def test_an_unknown_delivery_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LAKEHOUSE_EVENT_DELIVERY"):
        load_settings({"LAKEHOUSE_EVENT_DELIVERY": "carrier-pigeon"}, dotenv=tmp_path / "none")


def test_queued_gives_the_kafka_target_an_absolute_queue_dir_and_direct_none(tmp_path: Path) -> None:
    queued = MinioService(Settings(mode="native", state_dir=tmp_path)).delivery_env()
    assert Path(queued["MINIO_NOTIFY_KAFKA_QUEUE_DIR_LAKEHOUSE"]).is_absolute()
    direct = MinioService(Settings(mode="native", state_dir=tmp_path, event_delivery="direct")).delivery_env()
    assert not any("QUEUE" in name for name in direct)


def test_direct_delivery_makes_the_kafka_listener_reconcile_every_minute_unless_told_otherwise() -> None:
    direct = Settings(mode="native", event_delivery="direct")
    assert ListenerConfig.for_settings(direct).replay_interval_s == DIRECT_RECONCILE_INTERVAL_S == 60
    assert ListenerConfig.for_settings(direct, replay_interval_s=5.0).replay_interval_s == 5.0
    assert ListenerConfig.for_settings(Settings(mode="native")).replay_interval_s == 0


def test_the_local_source_never_gets_the_periodic_reconcile_from_the_delivery_setting() -> None:
    config = ListenerConfig.for_settings(Settings(mode="embedded", event_delivery="direct"))
    assert config.replay_interval_s == 0
