"""docker-compose.yml cannot run here (no Docker engine); check it agrees with the code."""

from pathlib import Path

import yaml

from lakehouse.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_names_the_same_bucket_topic_and_target_as_the_settings() -> None:
    settings, text = Settings(), COMPOSE.read_text(encoding="utf-8")
    minio_env = _compose()["services"]["minio"]["environment"]
    target = settings.notify_target_id
    assert minio_env[f"MINIO_NOTIFY_KAFKA_TOPIC_{target}"] == settings.events_topic
    assert minio_env[f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}"].startswith("/")
    assert settings.notify_arn in text
    init_env = _compose()["services"]["minio-init"]["environment"]
    assert init_env["LAKEHOUSE_RAW_PREFIX"] == settings.raw_prefix
    assert init_env["LAKEHOUSE_NOTIFY_ARN"] == settings.notify_arn
    assert settings.dlq_topic in text


def test_every_dependency_names_a_defined_service() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
    assert services["nessie"]["environment"]["quarkus.management.port"] != "9000"
