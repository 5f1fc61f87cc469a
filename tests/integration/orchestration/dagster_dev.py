"""``python -m orchestration.dev`` as a test fixture: start it, talk GraphQL to it, stop it.

The process gets its own session (process group), so stopping it stops the
webserver, daemon and code server it spawned, and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[3]
LOCATION = "orchestration.definitions"
REPOSITORY = "__repository__"

# ticks: the latest 20; launches: the latest 20 that requested runs (status SUCCESS), which a
# long run would otherwise push out of the 20 latest ticks (the sensor keeps ticking, skipping).
SENSOR_QUERY = """
query Sensor($selector: InstigationSelector!) {
  instigationStateOrError(instigationSelector: $selector) {
    __typename
    ... on InstigationState {
      status
      ticks(limit: 20) { tickId status timestamp runIds skipReason cursor error { message } }
      launches: ticks(limit: 20, statuses: [SUCCESS]) { tickId status timestamp runIds cursor }
    }
    ... on PythonError { message }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 20) {
    __typename
    ... on Runs { results { runId status startTime endTime tags { key value } assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""

LOGS_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
    ... on PythonError { message }
  }
}
"""


class DagsterDev:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.dev", "-p", str(self.port)],
            cwd=PROJECT_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, timeout: float) -> None:
        """Until the code location has loaded (the sensor is known to the webserver)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.sensor()["__typename"] == "InstigationState":
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(1)
        raise RuntimeError(f"dagster dev not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise ValueError(body["errors"])
        return body["data"]

    def sensor(self, name: str = "bronze_sensor") -> dict[str, Any]:
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "name": name}
        return self.graphql(SENSOR_QUERY, {"selector": selector})["instigationStateOrError"]

    def runs(self, tags: dict[str, str] | None = None) -> list[dict[str, Any]]:
        run_filter = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        return self.graphql(RUNS_QUERY, {"filter": run_filter})["runsOrError"]["results"]

    def run_messages(self, run_id: str) -> list[str]:
        """The messages of a run's event log, as the run page shows them."""
        logs = self.graphql(LOGS_QUERY, {"runId": run_id})["logsForRun"]
        return [event["message"] for event in logs.get("events", []) if event.get("message")]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C sends: dagster dev shuts its children down
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        try:  # a child that outlived dagster dev's own shutdown
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
