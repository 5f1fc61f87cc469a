"""WarmRunLauncher with a real Dagster instance, a real code server and real run worker processes.

No service needed: the runs are real Dagster runs of a tiny code location
(warm_location.py), launched as the daemon's run queue launches them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test, poll_for_finished_run
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import ModuleTarget

from orchestration.launcher import PROJECT_ROOT, WORKER_PID_TAG, WarmRunLauncher, Worker

LOCATION = "tests.integration.orchestration.warm_location"
LOCATION_FILE = Path(__file__).with_name("warm_location.py")


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[dg.DagsterInstance, WorkspaceRequestContext]]:
    watched = tmp_path / "watched.py"
    watched.write_text("# a stand-in for the code location's files\n")
    launcher = {"module": "orchestration.launcher", "class": "WarmRunLauncher",
                "config": {"preload": [LOCATION], "watch": [str(watched)]}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides={"run_launcher": launcher}) as instance:
        target = ModuleTarget(module_name=LOCATION, attribute=None, working_directory=str(PROJECT_ROOT),
                              location_name="warm")
        with WorkspaceProcessContext(instance, target) as process_context:
            yield instance, process_context.create_request_context()
        instance.run_launcher.dispose()
        # Every worker this launcher started has ended: none is left running once it is disposed
        # (a Popen collected while its process runs is a ResourceWarning, an error in this suite).
        assert running_workers() == []


def running_workers() -> list[int]:
    """Our run workers that are children of this process and still running (zombies have ended)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"orchestration.run_worker" in cmdline:
            found.append(int(stat.parent.name))
    return found


def launch(instance: dg.DagsterInstance, context: WorkspaceRequestContext, job: str,
           run_config: dict | None = None) -> dg.DagsterRun:
    location = context.get_code_location("warm")
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(job)
    run = create_run_for_test(instance, job_name=job, run_config=run_config,
                              remote_job_origin=remote_job.get_remote_origin(),
                              job_code_origin=remote_job.get_python_origin(),
                              job_snapshot=remote_job.job_snapshot)
    instance.launch_run(run.run_id, context)
    return run


def worker_note(instance: dg.DagsterInstance, run_id: str) -> str:
    """The launcher's engine event on the run (what the UI shows in the run's log)."""
    texts = [(r.dagster_event.message or "") if r.dagster_event else r.user_message for r in instance.all_logs(run_id)]
    notes = [t for t in texts if "Run worker pid" in t]
    assert len(notes) == 1, texts
    return notes[0]


def wait_for_spare(launcher: WarmRunLauncher) -> Worker:
    """The spare the launcher starts after a run's worker exits."""
    deadline = time.monotonic() + 60
    while launcher._spare is None and time.monotonic() < deadline:  # noqa: SLF001 - what the next run gets
        time.sleep(0.1)
    spare = launcher._spare  # noqa: SLF001
    assert spare is not None and spare.popen.poll() is None
    return spare


def touch_run(instance: dg.DagsterInstance, context: WorkspaceRequestContext, out: Path) -> dg.DagsterRun:
    run = launch(instance, context, "touch", {"ops": {"write_pid": {"config": {"path": str(out)}}}})
    finished = poll_for_finished_run(instance, run.run_id, timeout=120)
    assert finished.status == dg.DagsterRunStatus.SUCCESS, [r.user_message for r in instance.all_logs(run.run_id)]
    # The op ran in the worker the launcher handed the run to, not in this process or the code server.
    assert out.read_text() == finished.tags[WORKER_PID_TAG].split(":")[0] != str(os.getpid())
    return finished


def test_runs_start_in_a_worker_that_imported_the_code_location_ahead(workspace, tmp_path: Path) -> None:
    instance, context = workspace
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)

    first = touch_run(instance, context, tmp_path / "first")
    assert "started for this run" in worker_note(instance, first.run_id)  # nothing was ahead of the first run

    spare = wait_for_spare(launcher)  # started once the first run's worker exited
    second = touch_run(instance, context, tmp_path / "second")
    assert "started ahead of the run" in worker_note(instance, second.run_id)
    assert second.tags[WORKER_PID_TAG].split(":")[0] == str(spare.popen.pid)

    # Code changed after the spare started: it is retired, the run gets a fresh worker.
    retired = wait_for_spare(launcher)
    time.sleep(0.05)
    (tmp_path / "watched.py").write_text("# changed\n")
    third = touch_run(instance, context, tmp_path / "third")
    assert "started for this run" in worker_note(instance, third.run_id)
    assert retired is not None and retired.popen.wait(60) == 0  # end of input: it exits on its own


def wait_started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    deadline = time.monotonic() + 120
    while (instance.get_run_by_id(run.run_id).status != dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
           and time.monotonic() < deadline):
        time.sleep(0.2)
    time.sleep(1)  # the op is sleeping


def test_terminate_interrupts_the_worker_and_the_run_ends_canceled(workspace) -> None:
    instance, context = workspace
    run = launch(instance, context, "linger")
    wait_started(instance, run)
    assert instance.run_launcher.terminate(run.run_id)
    finished = poll_for_finished_run(instance, run.run_id, timeout=60)
    assert finished.status == dg.DagsterRunStatus.CANCELED
    assert not instance.run_launcher.terminate(run.run_id)  # finished: nothing to do


def test_a_spare_ends_when_its_launcher_goes_away(workspace, tmp_path: Path) -> None:
    instance, context = workspace
    touch_run(instance, context, tmp_path / "out")
    spare = wait_for_spare(instance.run_launcher)
    instance.run_launcher.dispose()
    assert spare.popen.wait(60) == 0


def test_terminate_right_after_launch_still_ends_canceled(workspace) -> None:
    """SIGINT while the cold worker is still importing: captured, and the run ends canceled."""
    instance, context = workspace
    run = launch(instance, context, "linger")
    assert instance.run_launcher.terminate(run.run_id)
    assert poll_for_finished_run(instance, run.run_id, timeout=120).status == dg.DagsterRunStatus.CANCELED


def test_a_worker_that_dies_fails_its_run_and_the_next_run_still_starts(workspace, tmp_path: Path) -> None:
    """Killed (OOM killer, kill -9): the run ends FAILED, not STARTED for good (the sensor waits for active runs)."""
    instance, context = workspace
    run = launch(instance, context, "linger")
    wait_started(instance, run)
    os.kill(int(instance.get_run_by_id(run.run_id).tags[WORKER_PID_TAG].split(":")[0]), signal.SIGKILL)  # type: ignore[union-attr]
    finished = poll_for_finished_run(instance, run.run_id, timeout=60)
    assert finished.status == dg.DagsterRunStatus.FAILURE
    assert "exited with code -9 before the run ended" in " ".join(
        (r.dagster_event.message or "") if r.dagster_event else r.user_message for r in instance.all_logs(run.run_id))
    wait_for_spare(instance.run_launcher)
    touch_run(instance, context, tmp_path / "after")
    # Terminating a run whose worker is gone ends it at once.
    stuck = launch(instance, context, "linger")
    wait_started(instance, stuck)
    pid = int(instance.get_run_by_id(stuck.run_id).tags[WORKER_PID_TAG].split(":")[0])  # type: ignore[union-attr]
    instance.add_run_tags(stuck.run_id, {WORKER_PID_TAG: f"{pid}:0"})  # as if the pid had been reused
    assert not instance.run_launcher.terminate(stuck.run_id)  # never signals a process it cannot vouch for
    assert instance.get_run_by_id(stuck.run_id).status == dg.DagsterRunStatus.CANCELED  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
