"""One vocabulary of failure reasons: defined in lakehouse/reasons.py, documented, enforced."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from lakehouse import reasons
from lakehouse.errors import PermanentError

DOC = Path(__file__).resolve().parents[2] / "docs" / "listener.md"
KINDS = {"content": reasons.CONTENT_REASONS, "event": {reasons.BAD_EVENT}, "metric": {reasons.TRANSIENT}}


def documented() -> dict[str, str]:
    """``reason -> kind`` from the table under "Failure reasons" in docs/listener.md."""
    text = DOC.read_text(encoding="utf-8").split("### Failure reasons", 1)[1]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\w+) \|", text.split("\n\n| reason", 1)[1].split("\n\n", 1)[0], re.M)
    return dict(rows)


def test_the_documented_table_lists_exactly_the_reasons_of_the_module_with_their_kinds() -> None:
    table = documented()
    assert set(table) == reasons.REASONS
    assert {kind: {r for r, k in table.items() if k == kind} for kind in KINDS} == KINDS


def test_every_constant_of_the_module_is_in_the_vocabulary() -> None:
    constants = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)}
    assert constants == reasons.REASONS


def test_a_permanent_error_needs_a_reason_from_the_vocabulary() -> None:
    assert PermanentError("bad csv", reason=reasons.PARSE_ERROR).reason == "parse_error"
    with pytest.raises(ValueError, match="unknown failure reason 'unroutable'"):
        PermanentError("no spec", reason="unroutable")
    with pytest.raises(ValueError):
        PermanentError("an outage is not permanent", reason=reasons.TRANSIENT)
    with pytest.raises(TypeError):
        PermanentError("no reason at all")  # type: ignore[call-arg]


def test_a_permanent_error_keeps_its_reason_through_pickling() -> None:
    try:
        raise PermanentError("x.json is not valid json", reason=reasons.PARSE_ERROR) from ValueError("bad")
    except PermanentError as exc:
        copy = pickle.loads(pickle.dumps(exc))
    assert (type(copy), copy.reason, str(copy)) == (PermanentError, "parse_error", "x.json is not valid json")


def test_metrics_refuse_a_reason_outside_the_vocabulary() -> None:
    from listener.metrics import ListenerMetrics

    metrics = ListenerMetrics()
    metrics.fail(reasons.UNROUTABLE_KEY)
    assert metrics.value("lakehouse_listener_failures_total", reason="unroutable_key") == 1
    with pytest.raises(ValueError):
        metrics.fail("loader_error")
