"""Dead letters carry the key, a machine-readable reason, the exception and the original event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse.errors import PermanentError, RetryableError
from listener.dlq import DeadLetter, FileDeadLetters


def test_a_dead_letter_from_an_exception_names_the_reason_the_class_and_the_cause() -> None:
    try:
        try:
            raise ValueError("line 3: unexpected end of data")
        except ValueError as inner:
            raise PermanentError("cannot parse raw/x.json", reason="parse_error") from inner
    except PermanentError as exc:
        letter = DeadLetter.from_exception(exc, key="raw/x.json", bucket="lakehouse", event={"eventName": "s3:ObjectCreated:Put"})
    body = json.loads(letter.to_json())
    assert body["reason"] == "parse_error"
    assert body["exception"] == "lakehouse.errors.PermanentError"
    assert "unexpected end of data" in body["error"] and "ValueError" in body["error"]
    assert body["event"] == {"eventName": "s3:ObjectCreated:Put"}
    assert body["failed_at"].endswith("+00:00")


def test_an_explicit_reason_wins_over_the_exceptions() -> None:
    letter = DeadLetter.from_exception(PermanentError("x", reason="parse_error"), key="k", bucket="b", reason="object_missing")
    assert letter.reason == "object_missing"


def test_an_exception_without_a_reason_is_dead_lettered_as_unexpected() -> None:
    letter = DeadLetter.from_exception(RuntimeError("boom"), key="k", bucket="b")
    assert letter.reason == "unexpected" and letter.exception == "builtins.RuntimeError"


def test_a_dead_letter_refuses_a_reason_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="unknown failure reason 'unroutable'"):
        DeadLetter(key="k", bucket="b", reason="unroutable", exception="E", error="e")


def test_the_dead_letter_file_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dead-letters.jsonl"
    FileDeadLetters(path).publish([DeadLetter(key="raw/a.csv", bucket="b", reason="parse_error", exception="E", error="e")])
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_the_file_sink_appends_json_lines(tmp_path: Path) -> None:
    sink = FileDeadLetters(tmp_path / "dlq" / "dead-letters.jsonl")
    sink.publish([DeadLetter(key="raw/ä.csv", bucket="b", reason="parse_error", exception="E", error="e")])
    sink.publish([DeadLetter(key="raw/b.csv", bucket="b", reason="parse_error", exception="E", error="e")])
    lines = (tmp_path / "dlq" / "dead-letters.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["raw/ä.csv", "raw/b.csv"]


def test_the_file_sink_reports_an_unwritable_path_as_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RetryableError):
        FileDeadLetters(blocker / "dead-letters.jsonl").publish([DeadLetter(key="k", bucket="b", reason="parse_error", exception="E", error="e")])
