from pathlib import Path

import pytest

from lakehouse.errors import ConfigurationError
from lakehouse.settings import load_settings


def test_defaults_are_the_embedded_laptop_setup(tmp_path: Path) -> None:
    settings = load_settings({}, dotenv=tmp_path / "missing.env")
    assert settings.mode == "embedded"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.iceberg_rest_uri == "http://127.0.0.1:19120/iceberg/main"
    assert settings.nessie_management_port != settings.minio_port


def test_environment_wins_over_dotenv_and_minio_names_are_understood(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("LAKEHOUSE_MINIO_PORT=9100\nMINIO_ROOT_USER='alice'\nexport LAKEHOUSE_MODE=native\n# comment\n")
    settings = load_settings({"LAKEHOUSE_MINIO_PORT": "9200"}, dotenv=dotenv)
    assert settings.minio_port == 9200
    assert settings.s3_access_key == "alice"
    assert settings.mode == "native"


def test_secrets_are_not_in_the_repr(tmp_path: Path) -> None:
    settings = load_settings({"LAKEHOUSE_S3_SECRET_KEY": "hunter2-secret"}, dotenv=tmp_path / "none")
    assert "hunter2-secret" not in repr(settings)


@pytest.mark.parametrize(("env", "message"), [
    ({"LAKEHOUSE_MODE": "cloud"}, "LAKEHOUSE_MODE"),
    ({"LAKEHOUSE_KAFKA_PORT": "ninety"}, "LAKEHOUSE_KAFKA_PORT"),
])
def test_bad_values_name_the_variable_to_fix(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env, dotenv=tmp_path / "none")
