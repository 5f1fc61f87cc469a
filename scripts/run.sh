#!/usr/bin/env bash
# The main job on the embedded default (no services, no Docker): installs the
# project on first use, then watches .lakehouse/landing/raw/ and loads every file
# dropped there into its bronze Iceberg table (SQLite catalog in .lakehouse/warehouse/).
# Extra arguments go to `lakehouse listen` (see --help). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/lakehouse listen "$@"
