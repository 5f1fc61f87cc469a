"""The one vocabulary of failure reasons (DESIGN §5, guarantee 7).

Every quarantine report (``quarantine/<key>.error.json``), dead letter
(``minio-events.dlq``) and ``lakehouse_listener_failures_total{reason=...}``
label uses one of these names, so a script or an alert can match on them.
docs/listener.md lists them; ``tests/unit/test_reasons.py`` keeps that list and
this module equal. Add a reason here, never inline a new string elsewhere.
"""

from __future__ import annotations

# ---- content: the file itself is bad -> quarantine + dead letter -------------------
UNROUTABLE_KEY = "unroutable_key"        # no dataset spec matches the key
EMPTY_FILE = "empty_file"                # 0 bytes (or nothing but whitespace / a BOM)
ENCODING_ERROR = "encoding_error"        # not valid UTF-8 (after decompression)
DECOMPRESSION_ERROR = "decompression_error"  # truncated or corrupt .gz
PARSE_ERROR = "parse_error"              # not valid CSV / JSON / PDF for its spec
SCHEMA_LIMIT = "schema_limit"            # would add more columns (or nest deeper) than the spec allows
RECORD_TOO_LARGE = "record_too_large"    # one row / record / value above the configured byte cap
ALL_ROWS_INVALID = "all_rows_invalid"    # parsed, but no row fits the schema
OBJECT_MISSING = "object_missing"        # deleted (or overwritten) between the event and the read
CHANGED_SINCE_LISTING = "changed_since_listing"  # Spark bulk: object changed after it was listed
UNEXPECTED = "unexpected"                # an unclassified error, isolated to its one file

# ---- events: the notification itself is bad -> dead letter only -------------------
BAD_EVENT = "bad_event"                  # null, non-JSON or non-MinIO payload on minio-events

# ---- not per file: metrics labels only --------------------------------------------
TRANSIENT = "transient"                  # an outage; retried with backoff, never quarantined

CONTENT_REASONS: frozenset[str] = frozenset({
    UNROUTABLE_KEY, EMPTY_FILE, ENCODING_ERROR, DECOMPRESSION_ERROR, PARSE_ERROR, SCHEMA_LIMIT,
    RECORD_TOO_LARGE, ALL_ROWS_INVALID, OBJECT_MISSING, CHANGED_SINCE_LISTING, UNEXPECTED,
})
# What a ``PermanentError`` may carry: every per-file (or per-message) reason.
PERMANENT_REASONS: frozenset[str] = CONTENT_REASONS | {BAD_EVENT}
REASONS: frozenset[str] = PERMANENT_REASONS | {TRANSIENT}


def check(reason: str, allowed: frozenset[str] = REASONS) -> str:
    """``reason`` itself if it is in ``allowed``; ``ValueError`` (a bug: a new inline name) otherwise."""
    if reason not in allowed:
        raise ValueError(f"unknown failure reason {reason!r}: use one of lakehouse/reasons.py ({', '.join(sorted(allowed))})")
    return reason
