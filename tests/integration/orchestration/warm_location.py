"""A tiny code location for the WarmRunLauncher test: one job writes a file, one waits to be interrupted.

No `from __future__ import annotations`: Dagster reads the op's context annotation at definition time.
"""


import os
import time
from pathlib import Path

import dagster as dg


@dg.op(config_schema={"path": str})
def write_pid(context: dg.OpExecutionContext) -> None:
    Path(context.op_config["path"]).write_text(str(os.getpid()))


@dg.op
def wait_long() -> None:
    time.sleep(300)


@dg.job
def touch() -> None:
    write_pid()


@dg.job
def linger() -> None:
    wait_long()


defs = dg.Definitions(jobs=[touch, linger], executor=dg.in_process_executor)  # as orchestration/assemble.py
