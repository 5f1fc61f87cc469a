"""The listener's knobs: one frozen object built from ``Settings`` plus CLI flags.

Environment variables stay in :mod:`lakehouse.settings`; everything here that is
not derived from ``Settings`` is a listener-only tuning knob with a default that
suits a laptop, overridable on the command line (``lakehouse listen --help``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lakehouse.errors import ConfigurationError
from lakehouse.settings import Settings

SOURCES = ("kafka", "local")
# Without MinIO's on-disk event queue (LAKEHOUSE_EVENT_DELIVERY=direct) this
# periodic reconcile is what loads files whose events a broker outage lost.
DIRECT_RECONCILE_INTERVAL_S = 60.0


@dataclass(frozen=True)
class ListenerConfig:
    """How the listener consumes, batches, retries and reports.

    Attributes:
        settings: the process settings (bucket, topics, group, catalog, ...).
        source: ``kafka`` (MinIO notifications) or ``local`` (watchdog on the
            landing folder); default follows the mode (embedded -> local).
        max_batch_files: a batch closes when it holds this many files...
        max_batch_bytes: ...or this many bytes (sum of object sizes)...
        max_batch_wait_s: ...or this long after its first event arrived...
        batch_idle_s: ...or when a poll of this long brought no further event
            (0 = off: every batch lingers max_batch_wait_s). A lone file waits
            about this long before it is loaded; a burst, whose events keep
            arriving, still fills its batches up to the bounds above.
        poll_timeout_s: how long one poll blocks; bounds how late a signal is seen.
        retry_initial_s / retry_max_s: capped exponential backoff for transient
            failures (storage, broker or catalog down). Retries never give up
            while the listener runs; nothing is quarantined or acknowledged.
        max_unexpected_failures: attempts of a batch that fails with an error
            that is neither retryable nor permanent (a bug) before its files are
            tried one by one and the culprit goes to the dead-letter topic.
        replay_on_start: reconcile (list the store, load what the ledger lacks)
            before consuming; always on for the local source, where it is the
            catch-up for files that arrived while the listener was down.
        replay_interval_s: reconcile again every this many seconds (0 = never).
            Default: never, but 60 for the kafka source when
            ``settings.event_delivery`` is ``direct`` (MinIO keeps no queue, so
            events sent while the broker was down are lost and only a reconcile
            finds their files).
        replay_prefix: what reconcile lists (must be under ``settings.raw_prefix``).
        outage_probe_s: kafka source: the reconcile thread asks the store whether
            it answers this often (one HEAD request; 0 = off). When it answers
            again after failing — and whenever the poll thread recovers from a
            transient failure — one reconcile pass runs ``outage_settle_s``
            later: an object MinIO wrote while it was being stopped, or while
            the broker was down without MinIO's queue, may never raise its
            event, and only a listing finds it.
        outage_settle_s: how long after a recovery that pass waits, so that what
            was in flight around the outage has landed before it lists.
        maintain_interval_s: run ``lakehouse maintain`` (compaction; on the
            SQLite catalog also snapshot expiry and orphan removal, with the
            command's defaults) every this many seconds, on the reconcile
            thread — never on the poll thread (0 = never, the default: with
            several instances on one table, run it on one of them, or from cron).
        metrics_host / metrics_port: the /metrics and /healthz endpoint;
            port 0 picks a free one. ``metrics_enabled=False`` serves nothing.
        session_timeout_ms: how soon the group notices a dead instance (a
            kill -9 leaves its partitions idle this long).
        auto_offset_reset: where a brand-new consumer group starts. ``earliest``
            so nothing published before the first start is skipped.
        settle_s: local source: a file must be unchanged this long (and closed,
            where the platform reports closes) before it is loaded.
        open_grace_s: local source: a file seen being written but never seen
            closed is treated as complete after this long unchanged.
        dead_letter_file: local source: where dead letters go without a broker
            (JSON Lines); default ``<state_dir>/dead-letters.jsonl``.
    """

    settings: Settings
    source: str = "kafka"
    max_batch_files: int = 500
    max_batch_bytes: int = 256 * 1024 * 1024
    max_batch_wait_s: float = 0.25
    batch_idle_s: float = 0.05
    poll_timeout_s: float = 0.2
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    max_unexpected_failures: int = 3
    replay_on_start: bool = False
    replay_interval_s: float = 0.0
    replay_prefix: str = ""
    outage_probe_s: float = 1.0
    outage_settle_s: float = 3.0
    maintain_interval_s: float = 0.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108
    metrics_enabled: bool = True
    session_timeout_ms: int = 10_000
    # A rebalance (partitions revoked, none assigned yet) normally completes in
    # well under a second; one stuck longer restarts the consumer (see KafkaSource).
    rejoin_timeout_s: float = 6.0
    auto_offset_reset: str = "earliest"
    settle_s: float = 0.3
    open_grace_s: float = 3.0
    dead_letter_file: str = ""
    client_id: str = field(default="lakehouse-listener")

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigurationError(f"listener source {self.source!r} is unknown; use one of {', '.join(SOURCES)}")
        if self.max_batch_files < 1 or self.max_batch_bytes < 1:
            raise ConfigurationError("--max-batch-files and --max-batch-bytes must be at least 1")
        if self.max_batch_wait_s < 0 or self.poll_timeout_s <= 0 or self.batch_idle_s < 0:
            raise ConfigurationError("--max-batch-wait and --batch-idle must be >= 0 and --poll-timeout > 0")
        if self.replay_prefix and not self.replay_prefix.startswith(self.settings.raw_prefix):
            raise ConfigurationError(f"the replay prefix (--prefix, --replay-prefix) must start with {self.settings.raw_prefix!r}")
        if self.outage_probe_s < 0 or self.outage_settle_s < 0:
            raise ConfigurationError("--outage-probe and the outage settle time must be >= 0 (0 = off)")
        if self.maintain_interval_s < 0:
            raise ConfigurationError("--maintain-interval must be >= 0 (0 = never)")
        if self.auto_offset_reset not in ("earliest", "latest"):
            raise ConfigurationError("--auto-offset-reset must be earliest or latest")

    @classmethod
    def for_settings(cls, settings: Settings, **overrides: Any) -> ListenerConfig:
        """The defaults for ``settings.mode``; ``None`` overrides are ignored (unset CLI flags)."""
        source = "local" if settings.mode == "embedded" else "kafka"
        base = cls(settings=settings, source=overrides.get("source") or source)
        changes = {k: v for k, v in overrides.items() if v is not None and k != "source"}
        if base.source == "local":
            changes["replay_on_start"] = True  # the catch-up is the local source's only memory
            changes["outage_probe_s"] = 0.0  # a folder has no outage that loses events; the start pass is the catch-up
        elif settings.event_delivery == "direct":
            changes.setdefault("replay_interval_s", DIRECT_RECONCILE_INTERVAL_S)
        return replace(base, **changes)

    @property
    def reconciles(self) -> bool:
        """Whether this listener ever runs a reconcile pass (and so needs the reconcile thread's parts)."""
        return self.replay_on_start or self.replay_interval_s > 0 or self.outage_probe_s > 0

    @property
    def reconcile_prefix(self) -> str:
        return self.replay_prefix or self.settings.raw_prefix

    @property
    def dead_letter_path(self) -> str:
        return self.dead_letter_file or str(self.settings.state_dir / "dead-letters.jsonl")
