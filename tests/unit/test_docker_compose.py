"""docker-compose.yml cannot run here (no Docker engine): validate it and check it agrees with the code.

Validation is Debian's ``docker-compose`` (1.29, the ``docker-compose`` apt
package that scripts/test.sh installs when it runs as root): ``docker-compose
config`` checks the file against the Compose schema and resolves every
variable, without a Docker engine. Without it the validation tests skip with
the reason, and fail under ``CI=true``. The other tests read the YAML
directly: pinned images or our build, health checks, 127.0.0.1 bindings,
``depends_on`` conditions, named volumes, and the names of DESIGN.md §3 in
every init step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.init.dremio import config_from
from lakehouse.services.minio import MinioService
from lakehouse.settings import _ENV_NAMES, Settings, load_settings, read_dotenv
from tests.conftest import running_in_ci

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE = PROJECT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT / ".env.example"
MINIO_INIT = PROJECT / "deploy" / "init" / "minio.sh"

# The names other parts rely on (DESIGN.md §3).
BUCKET, TOPIC, DLQ = "lakehouse", "minio-events", "minio-events.dlq"
RAW, QUARANTINE, WAREHOUSE = "raw/", "quarantine/", "warehouse/"
NESSIE_SOURCE, SILVER, SPACE, GOLD = "nessie", "silver", "lakehouse", "gold"
BIND = "${LAKEHOUSE_BIND:-127.0.0.1}"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _services() -> dict[str, dict]:
    return _compose()["services"]


def _long_running(service: dict) -> bool:
    return service.get("restart") != "no"


# ---- docker-compose config ---------------------------------------------------------


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        reason = "docker-compose is not installed (apt-get install docker-compose; scripts/test.sh does it as root)"
        if running_in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def _config(compose_file: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` with .env.example as the env file, as a newcomer's first run has it."""
    argv = [_docker_compose(), "--env-file", str(ENV_EXAMPLE), "--project-directory", str(PROJECT),
            "-f", str(compose_file), "config"]
    clean = {"PATH": "/usr/bin:/bin:/usr/local/bin", **(env or {})}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=clean, cwd=PROJECT)


def test_docker_compose_config_accepts_the_file_and_binds_every_port_to_localhost() -> None:
    result = _config(COMPOSE)

    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(_services())
    published = [p for s in resolved["services"].values() for p in s.get("ports", [])]
    assert len(published) == 8
    assert all(str(p).startswith("127.0.0.1:") for p in published), published
    assert "127.0.0.1:9000:9000/tcp" in resolved["services"]["minio"]["ports"]


def test_docker_compose_config_publishes_to_the_configured_address_only_when_asked() -> None:
    result = _config(COMPOSE, {"LAKEHOUSE_BIND": "0.0.0.0", "DAGSTER_HOST_PORT": "3300"})

    assert result.returncode == 0, result.stderr
    webserver = yaml.safe_load(result.stdout)["services"]["dagster-webserver"]
    assert webserver["ports"] == ["0.0.0.0:3300:3000/tcp"]


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    # The validation can fail: a misspelt key is refused with the service named.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("    healthcheck:\n", "    healthchek:\n", 1))

    result = _config(broken)

    assert result.returncode != 0
    assert "healthchek" in result.stderr


# ---- what the file promises ----------------------------------------------------------


def test_every_image_is_pinned_or_built_from_our_dockerfile() -> None:
    for name, service in _services().items():
        if "build" in service:
            assert service["build"] == ".", name
            assert re.fullmatch(r"futuremobility-lakehouse:\$\{LAKEHOUSE_IMAGE_TAG:-dev\}", service["image"]), name
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" in repository, f"{name}: {image} names no registry/repository"
        assert tag not in ("", "latest") and re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"
    assert (PROJECT / "Dockerfile").is_file()
    images = {s["image"].rpartition(":")[0] for s in _services().values() if "build" not in s}
    assert {"quay.io/minio/minio", "ghcr.io/projectnessie/nessie", "dremio/dremio-oss",
            "docker.redpanda.com/redpandadata/redpanda"} <= images


def test_every_long_running_service_has_a_health_check_and_every_one_shot_does_not_restart() -> None:
    for name, service in _services().items():
        if _long_running(service):
            assert service.get("restart") == "unless-stopped", name
            test = service.get("healthcheck", {}).get("test")
            assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1, f"{name} has no health check"
        else:
            assert "healthcheck" not in service and "ports" not in service, name
    one_shots = {n for n, s in _services().items() if not _long_running(s)}
    assert one_shots == {"minio-init", "topics", "nessie-volume", "dremio-init"}


def test_every_published_port_binds_to_lakehouse_bind() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert port.startswith(f"{BIND}:"), f"{name}: {port} does not bind to LAKEHOUSE_BIND"


def test_every_dependency_waits_for_health_or_a_finished_one_shot() -> None:
    services = _services()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions only orders the start"
        for dependency, rule in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            if _long_running(services[dependency]):
                assert condition == "service_healthy", f"{name} -> {dependency}: {condition}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}: {condition}"
    # The order the stack needs: the broker before MinIO (its notification target),
    # MinIO's users before Nessie, Nessie before Dremio, Dremio's setup before Dagster.
    assert "redpanda" in services["minio"]["depends_on"]
    assert "minio-init" in services["nessie"]["depends_on"]
    assert "nessie" in services["dremio"]["depends_on"]
    assert {"dremio-init", "nessie"} <= set(services["dagster-daemon"]["depends_on"])
    assert {"topics", "minio-init", "nessie"} <= set(services["listener"]["depends_on"])
    assert services["nessie"]["environment"]["quarkus.management.port"] != "9000"


def test_data_lives_in_named_volumes_and_only_the_init_scripts_are_mounted_from_the_checkout() -> None:
    declared = set(_compose()["volumes"])
    used = set()
    for name, service in _services().items():
        for mount in service.get("volumes", []):
            source, target, *mode = mount.split(":")
            if source.startswith((".", "/")):
                assert (name, source, mode) == ("minio-init", "./deploy/init", ["ro"]), f"{name}: bind mount {mount}"
                continue
            assert source in declared, f"{name}: {source} is not a named volume"
            used.add(source)
    assert used == declared
    for name in ("minio", "nessie", "redpanda", "dremio", "dagster", "lakehouse-state"):
        assert name in declared


# ---- the names of DESIGN.md §3 in every init step -------------------------------------


def test_the_settings_carry_the_design_names() -> None:
    s = Settings()
    assert (s.bucket, s.events_topic, s.dlq_topic) == (BUCKET, TOPIC, DLQ)
    assert (s.raw_prefix, s.quarantine_prefix, s.warehouse_uri) == (RAW, QUARANTINE, f"s3://{BUCKET}/warehouse")
    assert s.silver_namespace == SILVER


def test_minio_and_its_init_use_the_bucket_topic_and_prefixes() -> None:
    services, settings = _services(), Settings()
    minio_env = services["minio"]["environment"]
    target = settings.notify_target_id
    assert minio_env[f"MINIO_NOTIFY_KAFKA_TOPIC_{target}"] == TOPIC
    assert minio_env[f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}"].startswith("/")
    # S3 requests wait for the notification rules after a restart, in compose as natively.
    native_env = MinioService(settings).server_env()
    assert minio_env["MINIO_SYNC_BOOT"] == native_env["MINIO_SYNC_BOOT"] == "on"
    init = services["minio-init"]
    assert init["entrypoint"] == ["/bin/sh", "/deploy/init/minio.sh"]
    env = init["environment"]
    assert env["LAKEHOUSE_BUCKET"] == f"${{LAKEHOUSE_BUCKET:-{BUCKET}}}"
    assert (env["LAKEHOUSE_RAW_PREFIX"], env["LAKEHOUSE_QUARANTINE_PREFIX"], env["LAKEHOUSE_WAREHOUSE_PREFIX"]) == (
        RAW, QUARANTINE, WAREHOUSE)
    assert env["LAKEHOUSE_NOTIFY_ARN"] == settings.notify_arn
    script = MINIO_INIT.read_text(encoding="utf-8")
    # The script's own defaults are the same names, and its grants use them.
    for default in (f"BUCKET=${{LAKEHOUSE_BUCKET:-{BUCKET}}}", f"RAW=${{LAKEHOUSE_RAW_PREFIX:-{RAW}}}",
                    f"QUARANTINE=${{LAKEHOUSE_QUARANTINE_PREFIX:-{QUARANTINE}}}",
                    f"WAREHOUSE=${{LAKEHOUSE_WAREHOUSE_PREFIX:-{WAREHOUSE}}}"):
        assert default in script, default
    assert '--event put --prefix "$RAW"' in script
    assert '"arn:aws:s3:::$BUCKET/$RAW*"' in script and '"arn:aws:s3:::$BUCKET/$QUARANTINE*"' in script
    assert '"arn:aws:s3:::$WAREHOUSE_BUCKET/$WAREHOUSE*"' in script


def test_the_topics_step_creates_the_event_and_dead_letter_topics() -> None:
    command = " ".join(_services()["topics"]["command"])
    assert f"for topic in {TOPIC} {DLQ}; do" in command
    assert "topic create" in command and "-p 3" in command


def test_nessie_keeps_its_warehouse_in_the_bucket_with_its_own_key() -> None:
    env = _services()["nessie"]["environment"]
    assert env["nessie.catalog.warehouses.warehouse.location"] == f"s3://${{LAKEHOUSE_BUCKET:-{BUCKET}}}/warehouse"
    assert env["nessie.version.store.type"] == "ROCKSDB"
    assert env["lakehouse.s3.name"] == "${LAKEHOUSE_NESSIE_S3_ACCESS_KEY:-lakehouse-nessie}"


def test_the_dremio_init_makes_the_nessie_source_silver_folder_and_gold_space(tmp_path: Path) -> None:
    service = _services()["dremio-init"]
    assert service["command"][:3] == ["python", "-m", "deploy.init.dremio"]
    # The variables compose gives it (those with a ${...} default take the default), read as the init does.
    env = {k: re.sub(r"\$\{[A-Z0-9_]+:-(.*)\}", r"\1", str(v)) for k, v in service["environment"].items()}
    config = config_from(load_settings(env, dotenv=tmp_path / "none"))
    assert (config.source, config.silver_folder, config.space, config.gold_folder) == (NESSIE_SOURCE, SILVER, SPACE, GOLD)
    assert config.root_path == f"/{BUCKET}/warehouse"
    assert config.nessie_endpoint == "http://nessie:19120/api/v2"
    assert (config.url, config.s3_endpoint, config.s3_access_key) == ("http://dremio:9047", "minio:9000", "lakehouse-nessie")


def test_the_listener_signs_with_its_own_key_and_nobody_but_minio_init_has_the_admin_key() -> None:
    services = _services()
    listener = services["listener"]["environment"]
    assert listener["LAKEHOUSE_LISTENER_CREDENTIALS"] == "listener"
    for name, service in services.items():
        text = yaml.safe_dump(service.get("environment", {}))
        if name not in ("minio", "minio-init"):
            assert "MINIO_ROOT_PASSWORD" not in text and "LAKEHOUSE_S3_SECRET_KEY: ${MINIO" not in text, name


# ---- .env.example ----------------------------------------------------------------------


def _documented() -> set[str]:
    """Variables .env.example sets or shows commented out (``# NAME=...``)."""
    names = set(read_dotenv(ENV_EXAMPLE))
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s*([A-Z][A-Z0-9_]+)=", line.strip())
        if match:
            names.add(match.group(1))
    return names


def test_env_example_documents_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert used - _documented() == set()


def test_env_example_and_docs_deploy_list_every_variable_the_settings_read() -> None:
    every = {name for names in _ENV_NAMES.values() for name in names} - {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "JAVA_HOME"}
    assert every - _documented() == set()
    deploy = (PROJECT / "docs" / "deploy.md").read_text(encoding="utf-8")
    compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert {n for n in every | compose | _documented() if f"`{n}`" not in deploy} == set()


def test_every_lakehouse_variable_in_env_example_is_one_the_settings_or_compose_read() -> None:
    known = {name for names in _ENV_NAMES.values() for name in names}
    compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    unknown = {n for n in _documented() if n.startswith("LAKEHOUSE_")} - known - compose
    assert unknown == set()
    # Its values are the defaults the code has (a newcomer's copy changes nothing but secrets).
    values, s = read_dotenv(ENV_EXAMPLE), Settings()
    assert values["LAKEHOUSE_LISTENER_ACCESS_KEY"] == s.listener_s3_access_key
    assert values["LAKEHOUSE_NESSIE_S3_ACCESS_KEY"] == s.nessie_s3_access_key
    assert values["LAKEHOUSE_MODE"] == s.mode
