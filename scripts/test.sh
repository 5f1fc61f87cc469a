#!/usr/bin/env bash
# The one test command (README and .ci/run call exactly this):
#   installs everything, starts the native services (MinIO, Kafka, Nessie) unless
#   they already run, runs the whole pytest suite, and stops what it started.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -q
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "test: '$1' is required ($2)" >&2; exit 1; }; }
need go   "MinIO is built from source with go install"
need java "Kafka runs on Java 17+, Nessie on Java 21+"
need mvn  "Kafka, Nessie and the Iceberg Spark runtime come from Maven Central"

scripts/bootstrap.sh
# The Dagster UI test drives Debian's chromium (no browser download); CI runs as root.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing chromium (Debian package) for the Dagster UI test"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "test: chromium install failed; the UI test will report it" >&2
fi
# tests/unit/test_docker_compose.py validates docker-compose.yml with Debian's docker-compose (no engine needed).
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing docker-compose (Debian package) to validate docker-compose.yml"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; } \
    || echo "test: docker-compose install failed; the compose validation test will report it" >&2
fi
LAKEHOUSE=.venv/bin/lakehouse

started_services=0
if ! $LAKEHOUSE services status >/dev/null 2>&1; then
  started_services=1
  echo "test: starting native services (first run builds MinIO and fetches jars: several minutes)"
  if ! $LAKEHOUSE services up; then
    echo "test: services failed to start; integration tests will report it" >&2
  fi
fi
stop_services() { if [ "$started_services" = 1 ]; then $LAKEHOUSE services down || true; fi; }
trap stop_services EXIT

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "test: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
