"""What every native service provides to the manager."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from lakehouse.services.process import ManagedProcess
from lakehouse.settings import Settings


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


class NativeService(ABC):
    """One server process: how to prepare it, start it, and know it is healthy."""

    name: str = ""
    start_timeout: float = 120.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process = ManagedProcess(self.name, settings.services_dir / self.name)

    @property
    def data_dir(self) -> Path:
        return self.process.run_dir / "data"

    @property
    def marker(self) -> str:
        """A string only our instance's command line contains (its state path)."""
        return str(self.process.run_dir)

    def base_env(self) -> dict[str, str]:
        # Child processes inherit PATH and locale but not our credentials unless a
        # service needs them (then it adds them explicitly).
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
        return {k: v for k, v in os.environ.items() if k in keep}

    @abstractmethod
    def prepare(self) -> LaunchSpec:
        """Fetch or build the program, write config; return how to launch it."""

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers its own protocol."""

    def configure(self) -> None:
        """Post-start setup (buckets, topics); must be idempotent."""

    def endpoint(self) -> str:
        return ""

    def ports(self) -> tuple[int, ...]:
        """TCP ports this service binds; ``up`` refuses to start if one is taken."""
        return ()
