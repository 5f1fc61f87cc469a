#!/usr/bin/env bash
# The main job in one command, on the embedded default (no services, no Docker):
# installs the project on first use, then `lakehouse up` starts the listener
# (watching .lakehouse/landing/raw/) and Dagster (webserver on :3000 and daemon,
# bronze_sensor on), drops the committed sample on the first start, and waits.
# Extra arguments go to `lakehouse up` (--services native, --no-sample, --dagster-port).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/lakehouse up "$@"
