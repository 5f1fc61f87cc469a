"""deploy/init/dremio.py against recorded request shapes, with a fake HTTP session.

Dremio cannot run on our machines (no Docker engine, no Dremio build), so these
tests check the requests the init sends against the shapes of Dremio's REST API
(DESIGN.md §7; dremio-oss BootstrapResource, LogInLogOutResource,
ServerStatusResource and the v3 catalog/sql/job API), and that every step is
skipped when what it makes already exists.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from deploy.init import dremio
from deploy.init.dremio import DremioConfig, DremioInitError, config_from, run
from lakehouse.settings import load_settings

CONFIG = DremioConfig(
    url="http://dremio:9047", user="dremio", password="lakehouse1", email="dremio@lakehouse.local",
    nessie_endpoint="http://nessie:19120/api/v2", s3_endpoint="minio:9000", s3_secure=False,
    s3_access_key="lakehouse-nessie", s3_secret_key="warehouse-secret-42", root_path="/lakehouse/warehouse",
    silver_folder="silver", branch="main",
)


@dataclass
class Response:
    status_code: int
    body: Any = None

    def json(self) -> Any:
        return self.body

    @property
    def text(self) -> str:
        return json.dumps(self.body)


@dataclass
class FakeSession:
    """Answers by (method, path) from ``routes``; records every request with its headers."""

    routes: dict[tuple[str, str], Callable[[Any], Response] | list[Response] | Response]
    headers: dict[str, str] = field(default_factory=dict)
    sent: list[tuple[str, str, Any, dict[str, str]]] = field(default_factory=list)

    def request(self, method: str, url: str, json: Any = None, timeout: float = 0) -> Response:  # noqa: A002
        path = url.removeprefix(CONFIG.url)
        self.sent.append((method, path, json, dict(self.headers)))
        answer = self.routes.get((method, path), Response(404, {"errorMessage": "not found"}))
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer(json) if callable(answer) else answer

    def calls(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.sent]

    def body(self, method: str, path: str) -> Any:
        return next(body for m, p, body, _ in self.sent if (m, p) == (method, path))


def fresh_dremio() -> FakeSession:
    """A Dremio that just started: no user, no source, no space."""
    users: list[str] = []

    def login(body: Any) -> Response:
        if body["userName"] in users:
            return Response(200, {"token": "tok123", "userName": body["userName"]})
        return Response(401, {"errorMessage": "Login was unsuccessful"})

    def first_user(body: Any) -> Response:
        users.append(body["userName"])
        return Response(200, {"userName": body["userName"]})

    return FakeSession({
        ("GET", "/apiv2/server_status"): [Response(503, "STARTING"), Response(200, "OK")],
        ("POST", "/apiv2/login"): login,
        ("PUT", "/apiv2/bootstrap/firstuser"): first_user,
        ("POST", "/api/v3/catalog"): Response(200, {"id": "new"}),
        ("POST", "/api/v3/sql"): Response(200, {"id": "job-1"}),
        ("GET", "/api/v3/job/job-1"): [Response(200, {"jobState": "RUNNING"}), Response(200, {"jobState": "COMPLETED"})],
    })


def configured_dremio() -> FakeSession:
    """A Dremio where a previous run (or a human) made everything already."""
    session = fresh_dremio()
    session.routes[("POST", "/apiv2/login")] = Response(200, {"token": "tok123"})
    for path in ("nessie", "lakehouse", "lakehouse/gold"):
        session.routes[("GET", f"/api/v3/catalog/by-path/{path}")] = Response(200, {"id": path})
    return session


# What a first run sends, in order (recorded from Dremio's REST API documentation).
RECORDED_FIRST_RUN = [
    ("GET", "/apiv2/server_status"),
    ("GET", "/apiv2/server_status"),
    ("POST", "/apiv2/login"),
    ("PUT", "/apiv2/bootstrap/firstuser"),
    ("POST", "/apiv2/login"),
    ("GET", "/api/v3/catalog/by-path/nessie"),
    ("POST", "/api/v3/catalog"),
    ("POST", "/api/v3/sql"),
    ("GET", "/api/v3/job/job-1"),
    ("GET", "/api/v3/job/job-1"),
    ("GET", "/api/v3/catalog/by-path/lakehouse"),
    ("POST", "/api/v3/catalog"),
    ("GET", "/api/v3/catalog/by-path/lakehouse/gold"),
    ("POST", "/api/v3/catalog"),
]


def no_sleep(_: float) -> None:
    pass


def test_a_fresh_dremio_gets_user_source_folders_and_space_in_order() -> None:
    session = fresh_dremio()

    lines = run(CONFIG, session, sleep=no_sleep)

    assert session.calls() == RECORDED_FIRST_RUN
    assert lines == [
        "user dremio created", "source nessie created", "folder nessie.silver at branch main ready",
        "space lakehouse created", "folder lakehouse.gold created",
    ]


def test_the_first_user_request_has_the_bootstrap_shape() -> None:
    session = fresh_dremio()
    run(CONFIG, session, sleep=no_sleep)

    body = session.body("PUT", "/apiv2/bootstrap/firstuser")
    assert {k: body[k] for k in ("userName", "email", "password")} == {
        "userName": "dremio", "email": "dremio@lakehouse.local", "password": "lakehouse1"}
    assert body["firstName"] and body["lastName"] and isinstance(body["createdAt"], int)
    bootstrap_headers = next(h for m, p, _, h in session.sent if p == "/apiv2/bootstrap/firstuser")
    assert bootstrap_headers["Authorization"] == "_dremionull"


def test_calls_after_login_carry_the_dremio_token() -> None:
    session = fresh_dremio()
    run(CONFIG, session, sleep=no_sleep)

    after_login = [h for m, p, _, h in session.sent if p.startswith("/api/v3/")]
    assert after_login and all(h["Authorization"] == "_dremiotok123" for h in after_login)


def test_the_nessie_source_points_at_nessie_and_minio_with_the_warehouse_key() -> None:
    session = fresh_dremio()
    run(CONFIG, session, sleep=no_sleep)

    source = [b for m, p, b, _ in session.sent if (m, p) == ("POST", "/api/v3/catalog")][0]
    assert source["entityType"] == "source" and source["name"] == "nessie" and source["type"] == "NESSIE"
    config = source["config"]
    assert {k: config[k] for k in ("nessieEndpoint", "nessieAuthType", "credentialType", "awsAccessKey",
                                   "awsAccessSecret", "awsRootPath", "secure")} == {
        "nessieEndpoint": "http://nessie:19120/api/v2", "nessieAuthType": "NONE", "credentialType": "ACCESS_KEY",
        "awsAccessKey": "lakehouse-nessie", "awsAccessSecret": "warehouse-secret-42",
        "awsRootPath": "/lakehouse/warehouse", "secure": False,
    }
    properties = {p["name"]: p["value"] for p in config["propertyList"]}
    assert properties["fs.s3a.endpoint"] == "minio:9000"
    assert properties["fs.s3a.path.style.access"] == "true"
    assert properties["dremio.s3.compat"] == "true"


def test_silver_is_created_by_sql_at_branch_main_and_gold_is_a_folder_in_the_space() -> None:
    session = fresh_dremio()
    run(CONFIG, session, sleep=no_sleep)

    assert session.body("POST", "/api/v3/sql") == {"sql": 'CREATE FOLDER IF NOT EXISTS "nessie"."silver" AT BRANCH "main"'}
    created = [b for m, p, b, _ in session.sent if (m, p) == ("POST", "/api/v3/catalog")]
    assert created[1] == {"entityType": "space", "name": "lakehouse"}
    assert created[2] == {"entityType": "folder", "path": ["lakehouse", "gold"]}


def test_a_second_run_creates_nothing() -> None:
    session = configured_dremio()

    lines = run(CONFIG, session, sleep=no_sleep)

    calls = session.calls()
    assert ("PUT", "/apiv2/bootstrap/firstuser") not in calls
    assert ("POST", "/api/v3/catalog") not in calls
    assert calls.count(("POST", "/api/v3/sql")) == 1  # IF NOT EXISTS: safe to repeat
    assert lines[0] == "user dremio exists" and "source nessie exists" in lines and "folder lakehouse.gold exists" in lines


def test_an_entity_made_meanwhile_by_someone_else_is_not_an_error() -> None:
    session = fresh_dremio()
    session.routes[("POST", "/api/v3/catalog")] = Response(409, {"errorMessage": "already exists"})

    assert run(CONFIG, session, sleep=no_sleep)[1] == "source nessie created"


def test_a_failed_sql_job_names_the_statement() -> None:
    session = fresh_dremio()
    session.routes[("GET", "/api/v3/job/job-1")] = Response(200, {"jobState": "FAILED", "errorMessage": "no such source"})

    with pytest.raises(DremioInitError, match="CREATE FOLDER IF NOT EXISTS .*FAILED: no such source"):
        run(CONFIG, session, sleep=no_sleep)


def test_a_refused_request_fails_with_dremios_answer_but_never_the_secret() -> None:
    session = fresh_dremio()
    session.routes[("POST", "/api/v3/catalog")] = Response(400, {"errorMessage": "bad config"})

    with pytest.raises(DremioInitError) as error:
        run(CONFIG, session, sleep=no_sleep)

    assert "400" in str(error.value) and "bad config" in str(error.value)
    assert CONFIG.s3_secret_key not in str(error.value) and CONFIG.password not in str(error.value)
    assert CONFIG.s3_secret_key not in repr(CONFIG) and CONFIG.password not in repr(CONFIG)


def test_a_wrong_password_for_an_existing_user_says_so() -> None:
    session = fresh_dremio()
    session.routes[("PUT", "/apiv2/bootstrap/firstuser")] = Response(
        400, {"errorMessage": "First user can only be created when no user is already registered"})

    with pytest.raises(DremioInitError, match="First user can only be created"):
        run(CONFIG, session, sleep=no_sleep)


def test_a_dremio_that_never_answers_times_out_with_its_address() -> None:
    session = FakeSession({("GET", "/apiv2/server_status"): Response(503, "STARTING")})

    with pytest.raises(DremioInitError, match="http://dremio:9047 did not answer"):
        run(CONFIG, session, sleep=no_sleep, wait=0)


@pytest.mark.parametrize("password", ["", "short1", "lettersonly", "12345678"])
def test_a_password_dremio_would_refuse_is_refused_before_any_request(password: str) -> None:
    with pytest.raises(DremioInitError, match="DREMIO_PASSWORD"):
        dataclasses.replace(CONFIG, password=password)


COMPOSE_ENV = {
    "LAKEHOUSE_MODE": "docker", "LAKEHOUSE_S3_ENDPOINT": "http://minio:9000", "LAKEHOUSE_NESSIE_URI": "http://nessie:19120",
    "LAKEHOUSE_NESSIE_S3_ACCESS_KEY": "wh-user", "LAKEHOUSE_NESSIE_S3_SECRET_KEY": "wh-secret-1",
    "DREMIO_HOST": "dremio", "DREMIO_PASSWORD": "lakehouse1",
}


def test_the_compose_configuration_comes_from_the_lakehouse_settings(tmp_path: Any) -> None:
    config = config_from(load_settings(COMPOSE_ENV, dotenv=tmp_path / "none"))

    assert config.url == "http://dremio:9047"
    assert (config.user, config.password, config.email) == ("dremio", "lakehouse1", "dremio@lakehouse.local")
    assert config.nessie_endpoint == "http://nessie:19120/api/v2"
    assert (config.s3_endpoint, config.s3_secure) == ("minio:9000", False)
    assert (config.s3_access_key, config.s3_secret_key) == ("wh-user", "wh-secret-1")
    assert config.root_path == "/lakehouse/warehouse"
    assert (config.source, config.silver_folder, config.space, config.gold_folder) == ("nessie", "silver", "lakehouse", "gold")
    assert config.branch == "main"
    own = config_from(load_settings({**COMPOSE_ENV, "DREMIO_S3_ACCESS_KEY": "own", "DREMIO_S3_SECRET_KEY": "own-secret",
                                     "DREMIO_PORT": "19047", "LAKEHOUSE_BUCKET": "other"}, dotenv=tmp_path / "none"))
    assert (own.s3_access_key, own.s3_secret_key, own.url, own.root_path) == (
        "own", "own-secret", "http://dremio:19047", "/other/warehouse")
    assert "lakehouse1" not in repr(config) and "wh-secret-1" not in repr(config)


def test_the_module_runs_as_a_command_and_reports_errors_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("DREMIO_PASSWORD", "short")

    assert dremio.main(["--wait", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dremio-init: error: DREMIO_PASSWORD") and err.count("\n") == 1
