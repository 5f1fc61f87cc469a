"""Running the dbt project in ``transformation/`` and publishing its DuckDB file.

dbt runs as a subprocess of the venv's ``dbt`` with :func:`dbt_environment`:
the lakehouse settings as ``LAKEHOUSE_*`` variables (the dbt-duckdb plugin
reads them back with ``load_settings``), the DuckDB path, the target and
``DO_NOT_TRACK=1``. A subprocess also means DuckDB's single-writer lock on the
database file is gone the moment dbt exits.

DuckDB lets one process write a database file and nobody read it meanwhile, so
readers (``lakehouse query``) use a *published* copy: :func:`publish` copies the
file byte for byte while it holds DuckDB's read lock (no writer meanwhile, so the
copy is consistent) to a temporary file and renames it over
``lakehouse.published.duckdb``. A file copy costs what the disk costs (tens of ms
per 100 MB); re-encoding every table, as ``COPY FROM DATABASE`` does, cost 10 s at
8.5 M sales. Only when a writer died before its checkpoint (a ``.wal`` beside the
file) does it fall back to ``COPY FROM DATABASE``, which replays the log.
Readers that have the old copy open keep reading it (rename, not overwrite).
``lakehouse transform`` publishes after every successful DuckDB build; other
runners (Dagster) call :func:`publish` after theirs.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path

import duckdb

from lakehouse.errors import LakehouseError
from lakehouse.settings import _ENV_NAMES, Settings
from lakehouse.state import private_dir
from warehouse import engine

log = logging.getLogger(__name__)

DATABASE = "lakehouse"  # the DuckDB catalog name: the database file's stem
# The venv's dbt, whether or not the venv is on PATH (CI and `lakehouse up` call .venv/bin/... directly).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class TransformError(LakehouseError):
    """dbt could not be started, or the DuckDB file could not be published."""


def project_dir(settings: Settings) -> Path:
    return settings.project_root / "transformation"


def duckdb_path(settings: Settings) -> Path:
    """The dbt-duckdb database: gold views, and silver tables in embedded mode."""
    return settings.state_dir / "warehouse" / f"{DATABASE}.duckdb"


def published_path(settings: Settings) -> Path:
    return duckdb_path(settings).with_name(f"{DATABASE}.published.duckdb")


def dbt_target(settings: Settings) -> str:
    """``dremio`` in docker mode (the full stack runs Dremio), else ``duckdb``."""
    return "dremio" if settings.mode == "docker" else "duckdb"


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the environment variable ``load_settings`` reads it from.

    Contains secrets (S3 keys): pass it to a child process, never log it.
    """
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return {names[0]: str(values[name]) for name, names in _ENV_NAMES.items() if str(values[name]) != ""}


def dbt_environment(settings: Settings, target: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a dbt process of this project needs (over ``base``, default ``os.environ``)."""
    env = dict(os.environ if base is None else base)
    env.update(settings_environment(settings))
    env.update(
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        LAKEHOUSE_DBT_TARGET=target or dbt_target(settings),
        LAKEHOUSE_DUCKDB_PATH=str(duckdb_path(settings)),
    )
    return env


def dbt_command(args: Sequence[str], settings: Settings) -> list[str]:
    """``dbt <args> --project-dir ... --profiles-dir ...`` with the venv's dbt."""
    project = str(project_dir(settings))
    return [str(DBT_EXECUTABLE), *args, "--project-dir", project, "--profiles-dir", project]


def run_dbt(args: Sequence[str], settings: Settings, target: str | None = None, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run dbt (``args`` start with the dbt command, e.g. ``["build"]``); never raises on dbt's exit code."""
    private_dir(duckdb_path(settings).parent)
    command = dbt_command(args, settings)
    log.info("dbt: %s", " ".join(args))
    try:
        return subprocess.run(
            command, env=dbt_environment(settings, target), cwd=project_dir(settings),
            text=True, capture_output=capture, check=False,
        )
    except OSError as exc:
        raise TransformError(f"cannot run {command[0]}: {exc}; run scripts/bootstrap.sh") from exc


def publish(settings: Settings) -> Path | None:
    """Copy the dbt database for readers; None when dbt has not built it yet.

    Raises TransformError while a dbt run holds the file (try again after it).
    """
    live, target = duckdb_path(settings), published_path(settings)
    if not live.is_file():
        return None
    # Its own temporary name: two publishes at once (a transform beside a Dagster run) never share one.
    partial = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.partial")
    partial.unlink(missing_ok=True)
    try:
        with duckdb.connect() as con:  # closed (read lock released) before the rename
            # The read lock: while it is held no dbt run can open the file to write it.
            con.execute(f"attach {engine.sql_literal(str(live))} as {DATABASE} (read_only)")
            if _write_ahead_log(live).exists():  # changes not yet in the file: let DuckDB replay and copy them
                _copy_through_duckdb(con, settings, partial)
            else:
                shutil.copyfile(live, partial)
        os.replace(partial, target)
    except duckdb.IOException as exc:
        raise TransformError(f"cannot publish {live} while another process writes it: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    log.info("published %s -> %s", live, target)
    return target


def _write_ahead_log(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def _copy_through_duckdb(con: duckdb.DuckDBPyConnection, settings: Settings, partial: Path) -> None:
    # Views bind on creation: the copy needs what they read (bronze, nessie) attached.
    engine.configure(con, settings)
    con.execute(f"attach {engine.sql_literal(str(partial))} as published_copy")
    con.execute(f"copy from database {DATABASE} to published_copy")
    con.execute("detach published_copy")
