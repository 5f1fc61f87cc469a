"""Download, build and cache the native services' programs.

Everything comes from the package registries through their ordinary clients:
MinIO and mc are built with ``go install`` at pinned commits (the community
edition ships source only); Kafka, its log4j2 backend, Nessie and the Iceberg
Spark runtime are resolved by Maven. Results land in ``<cache_dir>`` with a
marker file per artifact, so the second ``up`` on a machine takes seconds.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import ServiceError

log = logging.getLogger(__name__)

# MinIO publishes RELEASE tags that are not semver, so Go sees pseudo-versions.
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
MC_VERSION = "v0.0.0-20250313080218-cf909e1063a9"

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
# 0.99.0 is the newest nessie-quarkus runner jar Maven Central serves (checked 2026-11).
NESSIE_VERSION = "0.99.0"
# Spark 3.5 <-> iceberg-spark-runtime-3.5_2.12; keep in step with pyspark in pyproject.toml.
ICEBERG_VERSION = "1.10.0"


@dataclass(frozen=True)
class MavenBundle:
    """A named set of Maven coordinates resolved into one folder of jars."""

    name: str
    coordinates: tuple[str, ...]  # group:artifact:version[:classifier]
    transitive: bool = True


KAFKA_BUNDLE = MavenBundle(
    "kafka-" + KAFKA_VERSION,
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        # Kafka's POM brings no log4j2 backend (it uses slf4j 1.7): without these it logs nothing.
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
    ),
)
NESSIE_BUNDLE = MavenBundle(
    "nessie-" + NESSIE_VERSION,
    (f"org.projectnessie.nessie:nessie-quarkus:{NESSIE_VERSION}:runner",),
    transitive=False,  # the runner jar is self-contained
)
SPARK_BUNDLE = MavenBundle(
    "spark-iceberg-" + ICEBERG_VERSION,
    (
        f"org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:{ICEBERG_VERSION}",
        f"org.apache.iceberg:iceberg-aws-bundle:{ICEBERG_VERSION}",
    ),
    transitive=False,  # both are shaded bundles
)


def _run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, what: str) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise ServiceError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _require_tool(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ServiceError(f"'{tool}' is not on PATH; {hint}")
    return path


def go_binary(cache_dir: Path, module: str, version: str) -> Path:
    """Build ``module@version`` with ``go install`` once; return the cached binary."""
    name = module.rsplit("/", 1)[-1]
    bin_dir = cache_dir / "bin" / f"{name}-{version}"
    binary = bin_dir / name
    if binary.is_file():
        return binary
    go = _require_tool("go", "install Go 1.24+ to build MinIO (the community edition is source-only)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(bin_dir), CGO_ENABLED="0", GOFLAGS="-trimpath")
    _run([go, "install", f"{module}@{version}"], env=env, what=f"building {name} (first time only, a few minutes)")
    if not binary.is_file():
        raise ServiceError(f"go install {module}@{version} finished but {binary} is missing")
    return binary


def minio_binary(cache_dir: Path) -> Path:
    return go_binary(cache_dir, "github.com/minio/minio", MINIO_VERSION)


def mc_binary(cache_dir: Path) -> Path:
    return go_binary(cache_dir, "github.com/minio/mc", MC_VERSION)


def _pom(bundle: MavenBundle) -> str:
    deps = []
    for coord in bundle.coordinates:
        group, artifact, version, *rest = coord.split(":")
        classifier = f"<classifier>{rest[0]}</classifier>" if rest else ""
        exclusions = "" if bundle.transitive else "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>"
        deps.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version>{classifier}{exclusions}</dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>lakehouse.local</groupId><artifactId>{re.sub(r'[^A-Za-z0-9_.-]', '-', bundle.name)}</artifactId>"
        f"<version>1</version><packaging>pom</packaging><dependencies>{''.join(deps)}</dependencies></project>"
    )


def maven_jars(cache_dir: Path, bundle: MavenBundle) -> list[Path]:
    """Resolve a bundle with Maven (into ~/.m2, then copied to the cache); return its jars."""
    target = cache_dir / "jars" / bundle.name
    marker = target / ".complete"
    if not marker.is_file():
        mvn = _require_tool("mvn", "install Maven 3.8+ (it fetches Kafka and Nessie from Maven Central)")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "pom.xml").write_text(_pom(bundle), encoding="utf-8")
        _run(
            [mvn, "-B", "-q", "dependency:copy-dependencies", f"-DoutputDirectory={target}", "-DincludeScope=runtime"],
            cwd=target,
            what=f"fetching {bundle.name} from Maven Central (first time only)",
        )
        marker.write_text("ok\n", encoding="utf-8")
    return sorted(target.glob("*.jar"))


def _java_major(java: Path) -> int:
    proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java(min_major: int, java_home: str = "") -> Path:
    """Find a ``java`` of at least ``min_major``: ``java_home``, PATH, then /usr/lib/jvm/*.

    The version is detected, never assumed from a path: machines differ in where
    their second JDK lives.
    """
    candidates: list[Path] = [Path(java_home) / "bin" / "java"] if java_home else []
    if shutil.which("java"):
        candidates.append(Path(shutil.which("java") or "java"))
    for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/Library/Java/JavaVirtualMachines")):
        if root.is_dir():
            candidates += sorted(root.glob("*/bin/java"), reverse=True)
            candidates += sorted(root.glob("*/Contents/Home/bin/java"), reverse=True)
    for java in candidates:
        if java.is_file() and _java_major(java) >= min_major:
            return java
    raise ServiceError(
        f"no Java {min_major}+ found (looked at $JAVA_HOME, PATH and /usr/lib/jvm); "
        f"install a JDK {min_major}+ or point LAKEHOUSE_JAVA_HOME at one"
    )
