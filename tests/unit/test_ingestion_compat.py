"""The Nessie add-schema workaround only touches add-schema updates."""

from __future__ import annotations

import json

from ingestion.compat import add_last_column_id


def test_add_schema_updates_get_the_highest_field_id_as_last_column_id() -> None:
    body = json.dumps({"updates": [
        {"action": "add-schema", "schema": {"type": "struct", "fields": [
            {"id": 1, "name": "a", "type": "string", "required": False},
            {"id": 2, "name": "l", "required": False,
             "type": {"type": "list", "element-id": 7, "element": "string", "element-required": False}},
        ]}},
        {"action": "set-current-schema", "schema-id": -1},
    ]}).encode()
    updates = json.loads(add_last_column_id(body))["updates"]
    assert updates[0]["last-column-id"] == 7
    assert "last-column-id" not in updates[1]


def test_other_bodies_pass_unchanged() -> None:
    body = b'{"updates": [{"action": "set-properties", "updates": {"a": "b"}}]}'
    assert add_last_column_id(body) is body
    assert add_last_column_id(b"not json") == b"not json"
