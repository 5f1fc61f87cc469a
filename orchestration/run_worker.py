"""``python -m orchestration.run_worker [--spare] [MODULE ...]``: a Dagster run worker started ahead of its run.

Dagster's default launcher starts a new Python process for every run, which
imports the code location (dagster, dagster-dbt with dbt-core, pyiceberg: about
3 s on the 2-core machine) before the run's first step — on every bronze commit
that the sensor turns into a run. This worker does that work while nothing is
waiting: it imports MODULEs (the code location), then blocks on standard input
for one ``ExecuteRunArgs`` line from :class:`orchestration.launcher.WarmRunLauncher`
and executes that run exactly as ``dagster api execute_run`` does (same instance,
same origin, same event log). End of input without a line (the launcher's
process went away) ends it quietly.

A preloaded module may also define ``warm_up_run_worker()``, called before a
spare (``--spare``: started while no run was running) waits: the code location's
starts dbt there (orchestration/dbt_inprocess.py). A worker started for a run
skips it: another run's dbt may be using the runs' target folder.

The run reconstructs its job from the origin it carries, so a worker that
preloaded another module still runs the right code, only without the head start.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

log = logging.getLogger("orchestration.run_worker")
# A preloaded module may define this function: called once, before the worker waits for its run.
WARM_UP_HOOK = "warm_up_run_worker"
SPARE_FLAG = "--spare"  # the launcher starts spares with it (orchestration/launcher.py)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    # --spare: the launcher started this worker while no run was running (launcher.py), so the
    # warm-up hooks may use the runs' shared folders; a worker started for a run skips them.
    spare = SPARE_FLAG in args_in
    modules = [a for a in args_in if a != SPARE_FLAG]
    # Dagster's private entry points, pinned with dagster in constraints.txt; the launcher's
    # test runs a real run through this worker, so a change there fails a test, not a run.
    from dagster._cli.api import _execute_run_command_body
    from dagster._cli.utils import get_instance_for_cli
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    # As `dagster api execute_run`: SIGINT (the launcher's terminate) becomes Dagster's clean
    # interruption wherever it lands, and the run ends CANCELED.
    with capture_interrupts():
        for module in modules:
            try:
                loaded = importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the run will load its origin itself and report the error there
                log.warning("run worker: preloading %s failed; the run will load it", module, exc_info=True)
                continue
            warm_up = getattr(loaded, WARM_UP_HOOK, None)
            if spare and callable(warm_up):
                try:
                    warm_up()
                except Exception:  # noqa: BLE001 - only a head start is lost: the run does the work itself
                    log.warning("run worker: %s.%s failed; the run starts without it", module, WARM_UP_HOOK,
                                exc_info=True)
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        args = deserialize_value(line, ExecuteRunArgs)
        with get_instance_for_cli(instance_ref=args.instance_ref) as instance:
            code = _execute_run_command_body(args.run_id, instance, lambda _event: None,
                                             set_exit_code_on_failure=bool(args.set_exit_code_on_failure))
    if _dbt_still_running():  # an interrupted in-process dbt that did not stop: end it with the process
        log.warning("run worker: dbt was still running after the run ended; exiting now")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    return code


def _dbt_still_running() -> bool:
    module = sys.modules.get("orchestration.dbt_inprocess")
    return bool(module is not None and module.still_running())


if __name__ == "__main__":
    sys.exit(main())
