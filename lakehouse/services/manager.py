"""Bring the native stack up and down in dependency order.

Order matters: Kafka first (MinIO's notification target), then MinIO (Nessie
writes metadata there), then Nessie. ``up`` is idempotent and returns only when
every service answers its own protocol; ``down`` stops only what we started.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from lakehouse.errors import ServiceError
from lakehouse.services.base import NativeService
from lakehouse.services.kafka import KafkaService
from lakehouse.services.minio import MinioService
from lakehouse.services.nessie import NessieService
from lakehouse.services.process import port_open, wait_until
from lakehouse.settings import Settings
from lakehouse.state import private_dir

log = logging.getLogger(__name__)

SERVICE_ORDER: tuple[type[NativeService], ...] = (KafkaService, MinioService, NessieService)
SERVICE_NAMES = tuple(cls.name for cls in SERVICE_ORDER)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    endpoint: str
    log_file: str


class ServiceManager:
    """Start, stop and inspect the native services for one state directory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = {cls.name: cls(settings) for cls in SERVICE_ORDER}

    def _select(self, names: Sequence[str] | None) -> list[NativeService]:
        unknown = set(names or ()) - set(SERVICE_NAMES)
        if unknown:
            raise ServiceError(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(SERVICE_NAMES)}")
        return [svc for name, svc in self.services.items() if not names or name in names]

    @contextmanager
    def _lock(self) -> Iterator[None]:
        # Two concurrent `up`s would race on pid files and storage formatting.
        private_dir(self.settings.state_dir)  # tighten a state folder made before it was private
        private_dir(self.settings.services_dir)
        with (self.settings.services_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def up(self, names: Sequence[str] | None = None) -> list[ServiceStatus]:
        with self._lock():
            for svc in self._select(names):
                self._start_one(svc)
        return self.status(names)

    def _start_one(self, svc: NativeService) -> None:
        started = time.monotonic()
        if svc.process.read_pid() is None:
            self._check_ports_free(svc)
            spec = svc.prepare()
            pid = svc.process.start(spec.argv, env=spec.env, cwd=spec.cwd, marker=svc.marker)
            log.info("started %s (pid %d), waiting until it answers", svc.name, pid)
        wait_until(svc.healthy, timeout=svc.start_timeout, what=svc.name, proc=svc.process)
        svc.configure()
        log.info("%s is up (%.1fs)", svc.name, time.monotonic() - started)

    def _check_ports_free(self, svc: NativeService) -> None:
        # A health check would happily pass against a stranger on our port (or a
        # copy we lost track of), so refuse to start rather than lie.
        taken = [p for p in svc.ports() if port_open(self.settings.host, p)]
        if taken:
            raise ServiceError(
                f"cannot start {svc.name}: port(s) {', '.join(map(str, taken))} on {self.settings.host} are in use by a "
                f"process this state directory did not start; stop it, or choose other ports "
                f"(LAKEHOUSE_{svc.name.upper()}_PORT ...)"
            )

    def _wait_ports_released(self, svc: NativeService, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(port_open(self.settings.host, p) for p in svc.ports()):
            time.sleep(0.2)

    def down(self, names: Sequence[str] | None = None) -> list[str]:
        stopped = []
        with self._lock():
            for svc in reversed(self._select(names)):
                if svc.process.stop():
                    self._wait_ports_released(svc)
                    stopped.append(svc.name)
                    log.info("stopped %s", svc.name)
        return stopped

    def status(self, names: Sequence[str] | None = None) -> list[ServiceStatus]:
        result = []
        for svc in self._select(names):
            pid = svc.process.read_pid()
            healthy = False
            if pid is not None:
                try:
                    healthy = svc.healthy()
                except Exception:  # noqa: BLE001 - a failing probe just means unhealthy
                    healthy = False
            result.append(ServiceStatus(svc.name, pid, healthy, svc.endpoint(), str(svc.process.log_file)))
        return result
