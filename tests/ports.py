"""Free local ports and the settings of a private native stack on them.

Shared by the fault suite, the benchmark suite and the run-it tests: each starts a
second MinIO + Kafka + Nessie beside the shared services, so none may use their ports."""

from __future__ import annotations

import dataclasses
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from lakehouse.settings import Settings


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now (held open together so they differ)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def private_stack_settings(base: Settings, state_dir: Path, **overrides: Any) -> Settings:
    """``base`` pointed at a native stack of its own: free ports, state under ``state_dir``,
    the default names, and no overrides that would point back at the shared services."""
    minio, console, kafka, controller, nessie, management = free_ports(6)
    return dataclasses.replace(
        base, mode="native", state_dir=state_dir,
        minio_port=minio, minio_console_port=console, kafka_port=kafka, kafka_controller_port=controller,
        nessie_port=nessie, nessie_management_port=management,
        s3_endpoint_override="", kafka_bootstrap_override="", nessie_uri_override="",
        bucket="lakehouse", bronze_namespace="bronze", **overrides,
    )


def free_port() -> int:
    """One port free right now."""
    return free_ports(1)[0]
