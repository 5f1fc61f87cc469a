"""``lakehouse listen``, ``lakehouse replay`` and ``python -m listener``.

Registered into :data:`lakehouse.cli.SUBCOMMANDS` by :func:`register`. Flags
left unset fall back to :meth:`ListenerConfig.for_settings`, which follows
``LAKEHOUSE_MODE``: embedded watches the landing folder, native/docker consume
Kafka.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import Any

from lakehouse.settings import Settings
from listener.config import SOURCES, ListenerConfig

log = logging.getLogger(__name__)

# argparse dest -> ListenerConfig field
_FLAGS = {
    "source": "source",
    "max_batch_files": "max_batch_files",
    "max_batch_bytes": "max_batch_bytes",
    "max_batch_wait": "max_batch_wait_s",
    "batch_idle": "batch_idle_s",
    "poll_timeout": "poll_timeout_s",
    "retry_max": "retry_max_s",
    "replay_on_start": "replay_on_start",
    "replay_interval": "replay_interval_s",
    "replay_prefix": "replay_prefix",
    "outage_probe": "outage_probe_s",
    "maintain_interval": "maintain_interval_s",
    "metrics_host": "metrics_host",
    "metrics_port": "metrics_port",
    "session_timeout_ms": "session_timeout_ms",
    "auto_offset_reset": "auto_offset_reset",
    "settle": "settle_s",
    "open_grace": "open_grace_s",
    "dead_letter_file": "dead_letter_file",
}


def add_listen_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", choices=SOURCES, help="kafka (MinIO events) or local (watch settings.landing_dir); default by LAKEHOUSE_MODE")
    g = p.add_argument_group("batching")
    g.add_argument("--max-batch-files", type=int, help="files per batch (default 500)")
    g.add_argument("--max-batch-bytes", type=int, help="bytes per batch (default 256 MiB)")
    g.add_argument("--max-batch-wait", type=float, metavar="SECONDS", help="linger after the first event of a batch (default 0.25)")
    g.add_argument("--batch-idle", type=float, metavar="SECONDS",
                   help="close a batch early when no event came for this long (default 0.05; 0 = always linger)")
    g.add_argument("--poll-timeout", type=float, metavar="SECONDS", help="longest block in one poll (default 0.2)")
    g.add_argument("--retry-max", type=float, metavar="SECONDS", help="backoff cap for transient failures (default 30)")
    g = p.add_argument_group("reconcile")
    g.add_argument("--replay-on-start", action=argparse.BooleanOptionalAction, default=None,
                   help="list the store and load what the ledger lacks before consuming (always on for --source local)")
    g.add_argument("--replay-interval", type=float, metavar="SECONDS", help="reconcile again every N seconds (default never; 60 with LAKEHOUSE_EVENT_DELIVERY=direct)")
    g.add_argument("--outage-probe", type=float, metavar="SECONDS",
                   help="kafka source: check the store every N seconds and reconcile once after it or the broker recovers "
                        "from an outage (default 1; 0 = off)")
    g.add_argument("--replay-prefix", help="what reconcile lists (default raw/)")
    g.add_argument("--maintain-interval", type=float, metavar="SECONDS",
                   help="run `lakehouse maintain` on the reconcile thread every N seconds (default never)")
    g = p.add_argument_group("kafka")
    g.add_argument("--session-timeout-ms", type=int, help="how soon the group notices a dead instance (default 10000)")
    g.add_argument("--auto-offset-reset", choices=("earliest", "latest"), help="where a new consumer group starts (default earliest)")
    g = p.add_argument_group("local watch")
    g.add_argument("--settle", type=float, metavar="SECONDS", help="a file must be unchanged this long (default 0.3)")
    g.add_argument("--open-grace", type=float, metavar="SECONDS", help="complete if unchanged this long though never seen closed (default 3)")
    g.add_argument("--dead-letter-file", help="dead letters without a broker (default <state_dir>/dead-letters.jsonl)")
    g = p.add_argument_group("operations")
    g.add_argument("--metrics-host", help="bind address of /metrics and /healthz (default 127.0.0.1)")
    g.add_argument("--metrics-port", type=int, help="port of /metrics and /healthz (default 9108; 0 = any free port)")
    g.add_argument("--no-metrics", action="store_true", help="serve no /metrics and /healthz")
    g.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    p.set_defaults(func=listen_command)


def config_from_args(args: argparse.Namespace, settings: Settings) -> ListenerConfig:
    overrides = {field: getattr(args, dest, None) for dest, field in _FLAGS.items()}
    config = ListenerConfig.for_settings(settings, **overrides)
    if getattr(args, "no_metrics", False):
        config = replace(config, metrics_enabled=False)
    return config


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the per-file fields (``extra={"file": ...}``) are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(getattr(record, "file", None) or {})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def use_json_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonFormatter())


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM/SIGINT ask for a graceful stop; a second one stops hard."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("%s: finishing the current batch, then stopping", signal.Signals(signum).name)
        stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def listen_command(args: argparse.Namespace, settings: Settings) -> int:
    from listener.app import build_listener

    if getattr(args, "log_json", False):
        use_json_logs()
    # Its own least-privilege MinIO key when LAKEHOUSE_LISTENER_CREDENTIALS=listener
    # (`lakehouse up --services native` and compose set it; docs/deploy.md).
    settings = settings.for_listener()
    config = config_from_args(args, settings)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: every thread's stack to stderr
    listener, parts = build_listener(config)
    log.info(
        "listener: source=%s bucket=%s namespace=%s mode=%s batch<=%d files/%gs",
        config.source, settings.bucket, settings.bronze_namespace, settings.mode, config.max_batch_files, config.max_batch_wait_s,
    )
    try:
        with stop_on_signals(listener.stop):
            listener.run()
    finally:
        parts.close()
    return 0


def add_replay_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", help="only keys under this prefix (default raw/)")
    p.add_argument("--dry-run", action="store_true", help="list what would be loaded, load nothing")
    p.add_argument("--source", choices=SOURCES, help="reconcile the bucket (kafka) or the landing folder (local); default by LAKEHOUSE_MODE")
    p.add_argument("--max-batch-files", type=int, help="files per Iceberg commit (default 500)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (with the pending keys)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=replay_command)


def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from listener.app import build_parts
    from listener.replay import reconcile

    config = ListenerConfig.for_settings(settings, source=args.source, replay_prefix=args.prefix, max_batch_files=args.max_batch_files)
    parts = build_parts(config, origin="replay", listener_id="lakehouse-replay")
    show = not (args.no_progress or args.json) and sys.stderr.isatty()
    try:
        report = reconcile(
            parts.store, parts.loader, parts.dispatcher, config.reconcile_prefix,
            dry_run=args.dry_run, max_files=config.max_batch_files, max_bytes=config.max_batch_bytes,
            progress=(lambda total: tqdm(total=total, unit="file", desc="replay", file=sys.stderr)) if show else None,
        )
    finally:
        parts.close()
    summary = report.summary()
    if args.json:
        print(json.dumps({**summary, "pending_keys": report.pending}, indent=2, ensure_ascii=False))
    else:
        where = f"s3://{settings.bucket}/" if config.source == "kafka" else f"{settings.landing_dir}/"
        print(f"{where}{report.prefix}: {report.listed} objects listed, {len(report.pending)} not in bronze")
        if args.dry_run:
            for key in report.pending:
                print(f"  would load {key}")
        else:
            print("loaded {loaded}, duplicate {duplicate}, quarantined {quarantined}, failed {failed}; {rows} rows".format(**summary))
    return 0 if summary["failed"] == 0 else 2


def register(subcommands: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]]) -> None:
    """Add ``listen`` and ``replay`` to the ``lakehouse`` command's table (``query`` lives in warehouse.cli).

    The table is passed in: under ``python -m lakehouse.cli`` the running module
    is ``__main__``, and importing ``lakehouse.cli`` here would fill a second copy.
    """
    SUBCOMMANDS = subcommands  # noqa: N806 - the same table lakehouse.cli iterates
    SUBCOMMANDS.setdefault("listen", ("load files into bronze as they land (MinIO events or a watched folder)", add_listen_arguments))
    SUBCOMMANDS.setdefault("replay", ("load every landed file the bronze ledger lacks", add_replay_arguments))
