"""Dremio's first-start setup, idempotent: what the seed did by hand in the UI.

``python -m deploy.init.dremio`` (docker compose's ``dremio-init`` service) makes

1. the first (admin) user, unless one can already log in;
2. the Nessie source ``nessie`` with its MinIO storage properties;
3. folder ``nessie.silver`` (``CREATE FOLDER IF NOT EXISTS ... AT BRANCH main``
   through ``POST /api/v3/sql``: dbt-dremio needs it before its first run);
4. space ``lakehouse`` with folder ``gold`` (where the gold views go).

Every step looks first and creates only what is missing, so a second run, or a
run against a Dremio someone configured by hand, changes nothing. The REST calls
are Dremio's documented ones (DESIGN.md §7); Dremio cannot run on our machines,
so tests/unit/test_dremio_init.py checks the requests against recorded shapes.

Configuration: nothing of its own. Everything comes from the lakehouse settings
(:mod:`lakehouse.settings`): the bucket and warehouse, Nessie's URI and branch,
the S3 endpoint, the silver namespace, the Nessie user's MinIO key (which
Dremio's source uses too unless ``DREMIO_S3_ACCESS_KEY`` / ``DREMIO_S3_SECRET_KEY``
are set) and Dremio's ``DREMIO_HOST``, ``DREMIO_PORT``, ``DREMIO_USER``,
``DREMIO_PASSWORD``, ``DREMIO_EMAIL`` (the names transformation/profiles.yml
reads). Only Dremio's own names (source ``nessie``, space ``lakehouse``, folder
``gold``: DESIGN.md §3) live here. Secrets are never logged.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from lakehouse.errors import LakehouseError
from lakehouse.settings import Settings, load_settings

log = logging.getLogger(__name__)

JOB_DONE = ("COMPLETED",)
JOB_FAILED = ("FAILED", "CANCELED", "CANCELLED")


class DremioInitError(LakehouseError):
    """A Dremio call failed in a way a retry of the init will not fix by itself."""


@dataclass(frozen=True)
class DremioConfig:
    """Where Dremio is and what to create in it; made from the settings by :func:`config_from`."""

    url: str
    user: str
    password: str = field(repr=False)
    email: str
    nessie_endpoint: str
    s3_endpoint: str  # host:port, as fs.s3a.endpoint wants it
    s3_secure: bool
    s3_access_key: str
    s3_secret_key: str = field(repr=False)
    root_path: str  # /<bucket>/<warehouse path>
    silver_folder: str
    branch: str
    # Dremio's own names (DESIGN.md §3): the Nessie source and the space of the gold views.
    source: str = "nessie"
    space: str = "lakehouse"
    gold_folder: str = "gold"

    def __post_init__(self) -> None:
        # Dremio's own rule, checked here so the error names the variable to fix.
        if len(self.password) < 8 or not any(c.isdigit() for c in self.password) or not any(c.isalpha() for c in self.password):
            raise DremioInitError("DREMIO_PASSWORD must have 8+ characters with letters and digits (Dremio's rule)")


def config_from(settings: Settings) -> DremioConfig:
    """The init's config, all of it from the lakehouse settings."""
    scheme, _, hostport = settings.s3_endpoint.partition("://")
    bucket, _, path = settings.warehouse_uri.removeprefix("s3://").partition("/")
    own_key = bool(settings.dremio_s3_access_key)
    return DremioConfig(
        url=settings.dremio_url,
        user=settings.dremio_user,
        password=settings.dremio_password,
        email=settings.dremio_email,
        nessie_endpoint=f"{settings.nessie_uri}/api/v2",
        s3_endpoint=hostport.rstrip("/"),
        s3_secure=scheme == "https",
        s3_access_key=settings.dremio_s3_access_key if own_key else settings.nessie_s3_access_key,
        s3_secret_key=settings.dremio_s3_secret_key if own_key else settings.nessie_s3_secret_key,
        root_path=f"/{bucket}/{path}".rstrip("/"),
        silver_folder=settings.silver_namespace,
        branch=settings.nessie_branch,
    )


class Dremio:
    """The few REST calls the init needs, on one ``requests.Session``-like object."""

    def __init__(self, config: DremioConfig, session: Any = None, sleep: Any = time.sleep) -> None:
        self.config = config
        self.session = session if session is not None else requests.Session()
        self.sleep = sleep

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        response = self.session.request(method, self.config.url + path, json=body, timeout=30)
        if response.status_code not in ok:
            raise DremioInitError(f"Dremio {method} {path} answered {response.status_code}: {response.text[:300]}")
        return response

    def wait_until_up(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.session.request("GET", self.config.url + "/apiv2/server_status", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise DremioInitError(f"Dremio at {self.config.url} did not answer within {timeout:.0f}s")
            self.sleep(2.0)

    def login(self) -> bool:
        """Log in as the configured user; False when Dremio refuses (no such user yet)."""
        c = self.config
        response = self.call("POST", "/apiv2/login", {"userName": c.user, "password": c.password}, ok=(200, 401, 403))
        if response.status_code != 200:
            return False
        self.session.headers["Authorization"] = "_dremio" + response.json()["token"]
        return True

    def by_path(self, *path: str) -> dict | None:
        joined = "/".join(quote(p, safe="") for p in path)
        response = self.call("GET", f"/api/v3/catalog/by-path/{joined}", ok=(200, 404))
        return response.json() if response.status_code == 200 else None

    def create(self, entity: dict) -> None:
        # 409: made meanwhile by someone else; fine for an idempotent init.
        self.call("POST", "/api/v3/catalog", entity, ok=(200, 409))

    def sql(self, statement: str, timeout: float = 120.0) -> None:
        job = self.call("POST", "/api/v3/sql", {"sql": statement}).json()["id"]
        deadline = time.monotonic() + timeout
        while True:
            state = self.call("GET", f"/api/v3/job/{job}").json()
            if state.get("jobState") in JOB_DONE:
                return
            if state.get("jobState") in JOB_FAILED:
                raise DremioInitError(f"Dremio job for {statement!r} {state['jobState']}: {state.get('errorMessage', '')}")
            if time.monotonic() > deadline:
                raise DremioInitError(f"Dremio job for {statement!r} still {state.get('jobState')} after {timeout:.0f}s")
            self.sleep(0.5)


def first_user(config: DremioConfig) -> dict:
    return {
        "userName": config.user, "firstName": "Lakehouse", "lastName": "Admin", "email": config.email,
        "createdAt": int(time.time() * 1000), "password": config.password,
    }


def nessie_source(config: DremioConfig) -> dict:
    """The NESSIE source: catalog at Nessie's v2 API, data in MinIO under the warehouse path."""
    return {
        "entityType": "source",
        "name": config.source,
        "type": "NESSIE",
        "config": {
            "nessieEndpoint": config.nessie_endpoint,
            "nessieAuthType": "NONE",
            "credentialType": "ACCESS_KEY",
            "awsAccessKey": config.s3_access_key,
            "awsAccessSecret": config.s3_secret_key,
            "awsRootPath": config.root_path,
            "secure": config.s3_secure,
            "propertyList": [
                {"name": "fs.s3a.endpoint", "value": config.s3_endpoint},
                {"name": "fs.s3a.path.style.access", "value": "true"},
                {"name": "dremio.s3.compat", "value": "true"},
                # No bucket probe: the warehouse user may list warehouse/ only.
                {"name": "fs.s3a.bucket.probe", "value": "0"},
            ],
        },
    }


def ensure_first_user(dremio: Dremio) -> str:
    if dremio.login():
        return f"user {dremio.config.user} exists"
    # The bootstrap endpoint wants an Authorization header even though nobody is logged in.
    dremio.session.headers["Authorization"] = "_dremionull"
    dremio.call("PUT", "/apiv2/bootstrap/firstuser", first_user(dremio.config))
    if not dremio.login():
        raise DremioInitError(f"created Dremio user {dremio.config.user} but cannot log in with DREMIO_PASSWORD")
    return f"user {dremio.config.user} created"


def ensure_entity(dremio: Dremio, path: tuple[str, ...], entity: dict) -> str:
    name = ".".join(path)
    if dremio.by_path(*path) is not None:
        return f"{entity['entityType']} {name} exists"
    dremio.create(entity)
    return f"{entity['entityType']} {name} created"


def run(config: DremioConfig, session: Any = None, sleep: Any = time.sleep, wait: float = 300.0) -> list[str]:
    """Every step in order; returns one line per step saying what it found or did."""
    dremio = Dremio(config, session, sleep)
    dremio.wait_until_up(wait)
    c = config
    done = [ensure_first_user(dremio)]
    done.append(ensure_entity(dremio, (c.source,), nessie_source(c)))
    dremio.sql(f'CREATE FOLDER IF NOT EXISTS "{c.source}"."{c.silver_folder}" AT BRANCH "{c.branch}"')
    done.append(f"folder {c.source}.{c.silver_folder} at branch {c.branch} ready")
    done.append(ensure_entity(dremio, (c.space,), {"entityType": "space", "name": c.space}))
    done.append(ensure_entity(dremio, (c.space, c.gold_folder), {"entityType": "folder", "path": [c.space, c.gold_folder]}))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.init.dremio", description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for Dremio to answer (default 300)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        for line in run(config_from(load_settings()), wait=args.wait):
            print(f"dremio-init: {line}", flush=True)
    except (LakehouseError, requests.RequestException) as exc:
        print(f"dremio-init: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
