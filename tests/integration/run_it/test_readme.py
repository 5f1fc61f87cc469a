"""Every command in README.md's ``bash`` blocks that does not need Docker runs here, so the README cannot drift.

The rule (also written in the README, section "The README is tested"): the line
before each ``bash`` block is a marker comment ``<!-- readme-test: KIND [REASON] -->``:

* ``plain``: run with a fresh state folder and nothing running;
* ``with-up``: run while ``lakehouse up`` (embedded, fresh state folder, free
  ports) runs, once the sample is in gold, as "in a second terminal" says;
* ``with-services``: run with the native services on free ports and a state
  folder of their own (so the shared services are never touched);
* ``skip REASON``: not run. Allowed only for commands that run until Ctrl-C
  (``scripts/run.sh``, ``lakehouse up``, ``orchestration.dev``), the test suite
  itself (``scripts/test.sh``) and Docker; the reason must name the test that
  covers the block, when one does, and that file must exist.

Each command (a line, with ``\\`` continuations joined) runs in ``bash`` from the
project folder and must exit 0. ``text`` blocks are output and never run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.settings import load_settings
from tests.integration.run_it.stack import MARKER, PROJECT, has_rows, leftovers, ok, tail, wait
from tests.ports import free_ports

README = PROJECT / "README.md"
KINDS = ("plain", "with-up", "with-services", "skip")
MARKER_LINE = re.compile(r"<!--\s*readme-test:\s*([\w-]+)\s*(.*?)\s*-->")
# What a skip is for: commands that do not return, the suite itself, Docker.
SKIPPABLE = re.compile(r"scripts/run\.sh|scripts/test\.sh|lakehouse up\b(?!.*--help)|orchestration\.dev(?!.*--help)|^docker\b")
COMMAND_TIMEOUT_S = 900  # the walkthrough's `until` loop waits for a sensor run
# Kept from the caller's environment; every other LAKEHOUSE_* variable is the test's own.
KEEP = ("LAKEHOUSE_CACHE_DIR", "LAKEHOUSE_JAVA_HOME")
SERVICE_PORTS = ("LAKEHOUSE_MINIO_PORT", "LAKEHOUSE_MINIO_CONSOLE_PORT", "LAKEHOUSE_KAFKA_PORT",
                 "LAKEHOUSE_KAFKA_CONTROLLER_PORT", "LAKEHOUSE_NESSIE_PORT", "LAKEHOUSE_NESSIE_MANAGEMENT_PORT")


@dataclass(frozen=True)
class Block:
    line: int  # where the fence opens, for messages
    kind: str
    reason: str
    commands: tuple[str, ...]


def readme_blocks(text: str) -> list[Block]:
    """The ``bash`` blocks of ``text`` with their markers and commands."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```bash":
            i += 1
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        match = MARKER_LINE.fullmatch(previous.strip())
        assert match, f"README.md:{i + 1}: a bash block without a `<!-- readme-test: KIND -->` line before it"
        body, i = [], i + 1
        while lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        blocks.append(Block(i - len(body), match.group(1), match.group(2), tuple(commands(body))))
        i += 1
    return blocks


def commands(body: list[str]) -> Iterator[str]:
    """One command per line; a line ending in ``\\`` goes on in the next; comments and blank lines are not commands."""
    pending = ""
    for raw in body:
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        command = (pending + line).strip()
        pending = ""
        if command and not command.startswith("#"):
            yield command


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_every_block_follows_the_rule() -> None:
    assert BLOCKS, "README.md has no bash blocks"
    for block in BLOCKS:
        assert block.kind in KINDS, f"README.md:{block.line}: unknown kind {block.kind!r}"
        assert block.commands, f"README.md:{block.line}: an empty block"
        needs_skip = [c for c in block.commands if SKIPPABLE.search(c)]
        if block.kind == "skip":
            assert needs_skip, f"README.md:{block.line}: skipped, but nothing in it runs forever or needs Docker"
            assert block.reason, f"README.md:{block.line}: a skip needs a reason"
            for path in re.findall(r"tests/\S+\.py", block.reason):
                assert (PROJECT / path).is_file(), f"README.md:{block.line}: {path} does not exist"
            if any("docker" in c for c in block.commands):
                assert "Docker" in block.reason
        else:
            assert not needs_skip, f"README.md:{block.line}: {needs_skip[0]!r} does not return or needs Docker: mark it skip"
    # The README's two commands are tested, just not here.
    skipped = {c for b in BLOCKS if b.kind == "skip" for c in b.commands}
    assert {"scripts/run.sh", "scripts/test.sh", "scripts/run.sh --services native"} <= skipped


def test_the_rule_parser_joins_continuations_and_drops_comments() -> None:
    text = "x\n<!-- readme-test: plain -->\n```bash\n# a comment\necho a \\\n  b\n\necho c  # says c\n```\n"
    assert readme_blocks(text) == [Block(3, "plain", "", ("echo a    b", "echo c  # says c"))]


def _environment(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_") or k in KEEP}
    return env | {"LAKEHOUSE_STATE_DIR": str(state), "DO_NOT_TRACK": "1", MARKER: str(os.getpid())}


def _run_blocks(kind: str, env: dict[str, str]) -> None:
    blocks = [b for b in BLOCKS if b.kind == kind]
    assert blocks, f"no README block of kind {kind}"
    for block in blocks:
        for command in block.commands:
            result = subprocess.run(["bash", "-c", command], env=env, cwd=PROJECT, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
            print(f"$ {command}\n{result.stdout[-2000:]}{result.stderr[-1000:]}")
            assert result.returncode == 0, (f"README.md:{block.line}: `{command}` exited {result.returncode}:\n"
                                            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


@pytest.mark.integration
def test_the_plain_blocks_run(tmp_path: Path) -> None:
    _run_blocks("plain", dict(_environment(tmp_path / "state"), LAKEHOUSE_MODE="embedded"))


@pytest.mark.integration
def test_the_walkthrough_runs_while_lakehouse_up_runs(tmp_path: Path) -> None:
    dagster_port, listener_port = free_ports(2)
    env = dict(_environment(tmp_path / "state"), LAKEHOUSE_MODE="embedded")
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "up", "--dagster-port", str(dagster_port),
                               "--listener-port", str(listener_port)], env=env, cwd=PROJECT, stdout=out,
                              stderr=subprocess.STDOUT)
    try:
        wait("the Dagster UI", lambda: ok(f"http://127.0.0.1:{dagster_port}/server_info"), 300, up, log)
        wait("the sample in gold.sales_monthly", lambda: has_rows(env, "gold.sales_monthly"), 600, up, log)
        _run_blocks("with-up", env)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(120)
    assert code == 0, tail(log)
    assert leftovers(str(os.getpid())) == {}


@pytest.mark.integration
def test_the_native_services_block_runs_on_a_stack_of_its_own(tmp_path: Path) -> None:
    env = _environment(tmp_path / "state") | dict(zip(SERVICE_PORTS, map(str, free_ports(len(SERVICE_PORTS))), strict=True))
    try:
        _run_blocks("with-services", env)
    finally:
        from lakehouse.services.manager import ServiceManager  # noqa: PLC0415

        settings = load_settings(env, dotenv=tmp_path / "none")
        ServiceManager(dataclasses.replace(settings, mode="native")).down()
    assert leftovers(str(os.getpid()), tmp_path) == {}
