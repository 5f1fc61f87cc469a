"""The listener's configuration follows the mode and refuses nonsense."""

from __future__ import annotations

import pytest

from lakehouse.errors import ConfigurationError
from lakehouse.settings import Settings
from listener.config import ListenerConfig


def test_embedded_mode_watches_the_landing_folder_and_always_catches_up_at_start() -> None:
    config = ListenerConfig.for_settings(Settings(mode="embedded"), replay_on_start=False)
    assert config.source == "local"
    assert config.replay_on_start is True


def test_native_mode_consumes_kafka_and_unset_flags_keep_the_defaults() -> None:
    config = ListenerConfig.for_settings(Settings(mode="native"), max_batch_files=None, max_batch_wait_s=1.5)
    assert config.source == "kafka"
    assert config.max_batch_files == 500
    assert config.max_batch_wait_s == 1.5
    assert config.replay_on_start is False


def test_the_source_can_be_chosen_explicitly() -> None:
    assert ListenerConfig.for_settings(Settings(mode="native"), source="local").source == "local"


@pytest.mark.parametrize(
    "overrides",
    [{"source": "carrier-pigeon"}, {"max_batch_files": 0}, {"replay_prefix": "warehouse/"}, {"auto_offset_reset": "middle"}],
)
def test_invalid_settings_are_configuration_errors(overrides: dict) -> None:
    with pytest.raises(ConfigurationError):
        ListenerConfig(settings=Settings(), **overrides)


def test_reconcile_prefix_and_dead_letter_path_default_from_settings(tmp_path) -> None:  # noqa: ANN001
    config = ListenerConfig(settings=Settings(state_dir=tmp_path))
    assert config.reconcile_prefix == "raw/"
    assert config.dead_letter_path == str(tmp_path / "dead-letters.jsonl")
