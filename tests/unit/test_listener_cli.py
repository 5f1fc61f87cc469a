"""The lakehouse command gains listen, replay and query; flags become a ListenerConfig."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse import cli
from lakehouse.settings import Settings
from listener import app
from listener.cli import config_from_args
from listener.testing import FakeLoader


def test_the_lakehouse_command_has_listen_replay_and_query() -> None:
    parser = cli.build_parser()
    for argv in (["listen"], ["replay", "--dry-run"], ["query", "select 1"]):
        assert callable(parser.parse_args(argv).func)


def test_listen_flags_override_the_mode_defaults() -> None:
    args = cli.build_parser().parse_args(["listen", "--max-batch-files", "7", "--max-batch-wait", "1.5", "--metrics-port", "0", "--no-replay-on-start"])
    config = config_from_args(args, Settings(mode="native"))
    assert (config.source, config.max_batch_files, config.max_batch_wait_s, config.metrics_port) == ("kafka", 7, 1.5, 0)
    assert config.replay_on_start is False and config.metrics_enabled is True
    no_metrics = config_from_args(cli.build_parser().parse_args(["listen", "--no-metrics"]), Settings())
    assert no_metrics.metrics_enabled is False and no_metrics.source == "local"


def test_replay_dry_run_lists_the_landing_files_the_ledger_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing" / "raw" / "ecoride" / "sales"
    landing.mkdir(parents=True)
    (landing / "a b.csv").write_text("x\n")
    loader = FakeLoader()
    monkeypatch.setattr(app, "open_loader", lambda config, store: loader)
    args = cli.build_parser().parse_args(["replay", "--dry-run", "--json"])
    assert args.func(args, Settings(state_dir=tmp_path)) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["pending_keys"] == ["raw/ecoride/sales/a b.csv"] and body["loaded"] == 0
    args = cli.build_parser().parse_args(["replay", "--no-progress"])
    assert args.func(args, Settings(state_dir=tmp_path)) == 0
    assert "loaded 1, duplicate 0, quarantined 0, failed 0; 1 rows" in capsys.readouterr().out
    assert loader.rows == {"ecoride_sales": ["raw/ecoride/sales/a b.csv"]}


def test_a_replay_prefix_outside_raw_is_refused(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["replay", "--prefix", "warehouse/"]) == 1
    assert "must start with 'raw/'" in capsys.readouterr().err
