"""(a) Twelve kinds of bad file among good ones, through MinIO + Kafka and through the watched folder.

Every good file ends in bronze exactly once, every bad one in quarantine with a
reason of lakehouse/reasons.py that fits its kind (and says what is wrong), and
the listener keeps running. A failure prints one line per file.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from ingestion.specs import route
from lakehouse.settings import Settings
from tests.integration.faults.badfiles import BadFile, bad_files
from tests.integration.faults.conftest import (
    FIGURES,
    HUGE_LINE_MB,
    SEED,
    bronze_rows,
    bucket_reports,
    expected_records,
    folder_reports,
    sample_files,
    upload_all,
)
from tests.integration.listener.conftest import ListenerProcess, dead_letters, end_offsets, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def shuffled(good: Mapping[str, bytes], bad: list[BadFile]) -> dict[str, bytes]:
    items = list(good.items()) + [(b.key, b.data) for b in bad]
    random.Random(SEED).shuffle(items)
    return dict(items)


def outcomes(good: Mapping[str, bytes], bad: list[BadFile], rows: Mapping[tuple[str, str], int],
             reports: Mapping[str, dict]) -> dict[str, str]:
    """``key -> one readable line`` of where each file ended; ``ok`` lines start with "ok"."""
    per_key: dict[str, list[int]] = {}
    for (key, _), count in rows.items():
        per_key.setdefault(key, []).append(count)
    wanted = expected_records(good)
    lines = {}
    for key in good:
        loads, report = per_key.get(key, []), reports.get(key)
        ok = loads == [wanted[key]] and report is None
        lines[key] = f"{'ok' if ok else 'WRONG'}: good file {key}: rows {loads} (file has {wanted[key]})" + (
            f", quarantined {report['reason']}: {report['message'][:160]}" if report else "")
    for b in bad:
        loads, report = per_key.get(b.key, []), reports.get(b.key)
        if report is None:
            state = f"loaded {loads} rows" if loads else "neither loaded nor quarantined (yet)"
            lines[b.key] = f"WRONG: {b.kind}: {state}; expected quarantine as {' or '.join(sorted(b.reasons))}"
            continue
        fits = report["reason"] in b.reasons and not loads
        lines[b.key] = (f"{'ok' if fits else 'WRONG'}: {b.kind}: quarantined as {report['reason']}"
                        f"{'' if fits else ' (expected ' + ' or '.join(sorted(b.reasons)) + ')'}"
                        f"{f', but {loads} rows in bronze' if loads else ''}: {report['message'][:160]}")
    return lines


def settle(good: Mapping[str, bytes], bad: list[BadFile], snapshot: Callable[[], dict[str, str]],
           alive: Callable[[], bool], timeout: float) -> dict[str, str]:
    """Poll until no file is still on its way (or timeout / the listener died)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = snapshot()
        pending = [line for line in lines.values() if "(yet)" in line or "rows []" in line]
        if not pending or time.monotonic() > deadline or not alive():
            return lines
        time.sleep(1.0)


def check(transport: str, started: float, lines: dict[str, str], proc: ListenerProcess, bad: list[BadFile]) -> None:
    wrong = sorted(line for line in lines.values() if not line.startswith("ok"))
    alive = proc.proc.poll() is None
    FIGURES.append({"scenario": f"bad files via {transport}", "files": len(lines), "bad": len(bad),
                    "right": len(lines) - len(wrong), "wrong": len(wrong), "listener_alive": alive,
                    "seconds": round(time.monotonic() - started, 1)})
    print(f"\nBAD FILES via {transport}:\n  " + "\n  ".join(sorted(lines.values())))
    assert alive, f"the listener died (rc {proc.proc.returncode}):\n{proc.log()}"
    assert proc.health().get("status") == "ok", proc.health()
    assert not wrong, f"{len(wrong)} of {len(lines)} files ended wrong via {transport}:\n  " + "\n  ".join(wrong)


def tables(keys: Mapping[str, bytes]) -> set[str]:
    return {spec.table for spec in map(route, keys) if spec is not None}


def test_twelve_kinds_of_bad_file_uploaded_to_minio_are_quarantined_with_their_reasons_and_every_good_file_loads(
    fault_settings: Settings, tmp_path: Path
) -> None:
    settings = fault_settings
    good, bad = sample_files(), bad_files(HUGE_LINE_MB)
    dlq_from = end_offsets(settings, settings.dlq_topic)
    proc = ListenerProcess(settings, tmp_path / "listener.log", "--max-batch-files", "50", "--retry-max", "2")
    try:
        proc.wait_consuming()
        started = time.monotonic()
        upload_all(settings, shuffled(good, bad), workers=4)
        snapshot = lambda: outcomes(good, bad, bronze_rows(settings, tables(good)), bucket_reports(settings))  # noqa: E731
        lines = settle(good, bad, snapshot, lambda: proc.proc.poll() is None, timeout=180)
        lettered = {dl["key"] for dl in dead_letters(settings, dlq_from)}
        for b in bad:
            if lines[b.key].startswith("ok") and b.key not in lettered:
                lines[b.key] = "WRONG: " + lines[b.key][4:] + " (no dead letter)"
        check("MinIO + Kafka", started, lines, proc, bad)
    finally:
        proc.close()


def test_twelve_kinds_of_bad_file_dropped_in_the_watched_folder_are_quarantined_with_their_reasons_and_every_good_file_loads(
    base_settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(base_settings, mode="embedded", state_dir=tmp_path / "state")
    good, bad = sample_files(), bad_files(HUGE_LINE_MB)
    proc = ListenerProcess(settings, tmp_path / "listener.log", "--max-batch-files", "50", "--retry-max", "2")
    try:
        wait_for("the folder listener", lambda: proc.health().get("state") == "running" or proc.proc.poll() is not None, timeout=60)
        started = time.monotonic()
        for key, data in shuffled(good, bad).items():
            path = settings.landing_dir / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)  # a write and a close, as `cp` does
        snapshot = lambda: outcomes(good, bad, bronze_rows(settings, tables(good)), folder_reports(settings))  # noqa: E731
        lines = settle(good, bad, snapshot, lambda: proc.proc.poll() is None, timeout=180)
        letters_file = settings.state_dir / "dead-letters.jsonl"
        letters = [json.loads(line) for line in letters_file.read_text(encoding="utf-8").splitlines()] if letters_file.exists() else []
        lettered = {dl["key"] for dl in letters}
        for b in bad:
            if lines[b.key].startswith("ok") and b.key not in lettered:
                lines[b.key] = "WRONG: " + lines[b.key][4:] + " (no dead letter)"
        check("the watched folder", started, lines, proc, bad)
    finally:
        proc.close()
