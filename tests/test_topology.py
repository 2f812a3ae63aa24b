"""The production topology as plain processes on loopback (no Docker engine here).

PostgreSQL (the machine's own server, fresh databases), `mlflow server` with a PostgreSQL
backend store and proxied S3 artifacts, moto's S3 server standing in for MinIO, gunicorn with the
project, and a django-q2 `qcluster` worker — all configured only through the environment
variables docker-compose.yml passes. Everything goes through real HTTP, S3 and SQL.
"""

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import psycopg2
import pytest

from tests.factories import SEED_EXAMPLE
from tests.support.processes import ROOT, free_port, free_ports, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "topology-test",
    "AWS_SECRET_ACCESS_KEY": "topology-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _admin_sql(statement: str) -> None:
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def _query(dbname: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dbname=dbname, **PG) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    connection.close()
    return rows


class Processes:
    """Started processes, each in its own session so the whole tree can be stopped."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, proc))

    def _members(self) -> list[psutil.Process]:
        """Live processes of every started session (zombies awaiting a reaper do not count)."""
        sessions = {proc.pid for _, proc in self.started}
        members = []
        for candidate in psutil.process_iter(["pid"]):
            try:
                if os.getsid(candidate.pid) in sessions and (
                    candidate.status() != psutil.STATUS_ZOMBIE
                ):
                    members.append(candidate)
            except (ProcessLookupError, psutil.Error):
                continue
        return members

    def stop_all(self) -> list[str]:
        """SIGTERM every session (the JVM a worker started included), then SIGKILL stragglers."""
        for _, proc in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        _, alive = psutil.wait_procs(self._members(), timeout=20)
        for straggler in alive:
            with contextlib.suppress(psutil.Error):
                straggler.kill()
        psutil.wait_procs(alive, timeout=10)
        return [f"{p.pid}" for p in self._members()]


def _http(
    url: str,
    body: Any = None,
    token: str = "",
    content_type: str = "application/json",
    method: str | None = None,
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body else None)
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[dict[str, Any]]:
    suffix = f"{os.getpid()}_{int(time.time())}"
    app_db, mlflow_db = f"topo_app_{suffix}", f"topo_mlflow_{suffix}"
    _admin_sql(f"CREATE DATABASE {app_db}")
    _admin_sql(f"CREATE DATABASE {mlflow_db}")
    procs = Processes(tmp_path)
    ports = dict(zip(("s3", "mlflow", "web"), free_ports(3), strict=True))
    s3_url = f"http://127.0.0.1:{ports['s3']}"
    base_env = {**os.environ, **S3_KEYS}
    try:
        # moto's S3 server stands in for MinIO (same S3 API, private buckets).
        procs.start(
            "s3",
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                str(ports["s3"]),
            ],
            base_env,
        )
        wait_for_http(f"{s3_url}/", 30)
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            **{k.lower(): v for k, v in S3_KEYS.items() if k != "AWS_DEFAULT_REGION"},
            region_name="us-east-1",
        )
        for bucket in ("mlflow", "dvc"):
            s3.create_bucket(Bucket=bucket)
        procs.start(
            "mlflow",
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["mlflow"]),
                "--workers",
                "1",
                "--backend-store-uri",
                f"postgresql+psycopg2://postgres@127.0.0.1:5432/{mlflow_db}",
                "--artifacts-destination",
                "s3://mlflow",
                "--serve-artifacts",
            ],
            {**base_env, "MLFLOW_S3_ENDPOINT_URL": s3_url},
        )
        wait_for_http(f"http://127.0.0.1:{ports['mlflow']}/health", 90)
        app_env = {
            **base_env,
            "DJANGO_SECRET_KEY": "topology-test-key-" + "x" * 40,
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{app_db}",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
            "MLFLOW_ARTIFACT_ROOT": "",
            "DVC_REMOTE_URL": "s3://dvc",
            "DVC_S3_ENDPOINT_URL": s3_url,
            "TITANIC_VAR_DIR": str(tmp_path / "var"),
            "TITANIC_DVC_ROOT": str(tmp_path / "repo"),
            "SPARK_MASTER": "local[2]",
            "AUTO_PROMOTE_TITANIC": "true",
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=app_env, check=True)
        for command in (["setup_schedules"], ["setup_roles"]):
            subprocess.run(
                [*manage, *command], cwd=ROOT, env=app_env, check=True, capture_output=True
            )
        token = (
            subprocess.run(
                [
                    *manage,
                    "shell",
                    "-c",
                    "from django.contrib.auth.models import User; from rest_framework.authtoken."
                    "models import Token; from django.contrib.auth.models import Group; "
                    "u = User.objects.create_user('ops'); "
                    "u.groups.add(Group.objects.get(name='operator')); "
                    "print(Token.objects.create(user=u).key)",
                ],
                cwd=ROOT,
                env=app_env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        procs.start(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "titanic_ops.wsgi:application",
                "--bind",
                f"127.0.0.1:{ports['web']}",
                "--workers",
                "2",
            ],
            app_env,
        )
        procs.start("worker", [*manage, "qcluster"], app_env)
        wait_for_http(f"http://127.0.0.1:{ports['web']}/health", 60)
        yield {
            "web": f"http://127.0.0.1:{ports['web']}",
            "token": token,
            "s3": s3,
            "app_db": app_db,
            "mlflow_db": mlflow_db,
            "env": app_env,
            "tmp": tmp_path,
        }
    finally:
        leftovers = procs.stop_all()
        _admin_sql(f"DROP DATABASE IF EXISTS {app_db} WITH (FORCE)")
        _admin_sql(f"DROP DATABASE IF EXISTS {mlflow_db} WITH (FORCE)")
        assert leftovers == [], f"processes left behind: {leftovers}"


def test_it_runs_the_production_shape_end_to_end(
    topology: dict[str, Any], titanic_bytes: bytes
) -> None:
    web, token, s3 = topology["web"], topology["token"], topology["s3"]
    code, body = _http(f"{web}/predict_titanic", SEED_EXAMPLE)
    assert code == 503 and "no champion" in body  # no champion yet, and it says so

    code, data_version = _http(
        f"{web}/api/data-versions?name=train.csv", titanic_bytes, token, content_type="text/csv"
    )
    assert code == 201, data_version
    code, run = _http(f"{web}/api/training-runs", {"profile": "quick", "families": ["lr"]}, token)
    assert code == 202, run
    deadline = time.monotonic() + 600
    while run["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"training did not finish: {run}"
        time.sleep(3)
        run = _http(f"{web}/api/training-runs/{run['id']}", token=token)[1]
    assert run["status"] == "succeeded", run["error"]
    assert run["model_version"] == 1

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(key.endswith("scorer/scorer.json") for key in keys)
    assert any(key.endswith("model/MLmodel") for key in keys)
    assert any(key.endswith("evaluation/evaluation.html") for key in keys)
    mlflow_db = topology["mlflow_db"]
    assert _query(mlflow_db, "SELECT name, version FROM model_versions") == [
        ("titanic_spark_model", 1)
    ]
    assert _query(mlflow_db, "SELECT alias, version FROM registered_model_aliases") == [
        ("champion", 1)
    ]

    answers = [_http(f"{web}/predict_titanic", SEED_EXAMPLE) for _ in range(5)]
    assert {(code, body["model_version"]) for code, body in answers} == {(200, "1")}
    logged = _query(
        topology["app_db"], "SELECT request_id::text, model_version FROM serving_inferencelog"
    )
    assert sorted(logged) == sorted((body["request_id"], 1) for _, body in answers)

    # The data version went to the S3 remote; a fresh checkout gets it back byte for byte.
    md5 = data_version["md5"]
    dvc_keys = [item["Key"] for item in s3.list_objects_v2(Bucket="dvc").get("Contents", [])]
    assert any(key.endswith(md5[2:]) for key in dvc_keys)
    repo = topology["tmp"] / "repo"
    (repo / "data" / "titanic.csv").unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    subprocess.run(
        [sys.executable, "-m", "dvc", "pull"],
        cwd=repo,
        env=topology["env"],
        check=True,
        capture_output=True,
    )
    restored = (repo / "data" / "titanic.csv").read_bytes()
    assert hashlib.md5(restored).hexdigest() == md5 and restored == titanic_bytes


def _registry_call(
    base: str, path: str, body: dict[str, Any], auth: tuple[str, str] | None, method: str = "POST"
) -> tuple[int, Any]:
    """One MLflow REST call, with HTTP basic credentials or none at all."""
    import base64

    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if auth is not None:
        pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_it_refuses_registry_changes_without_a_login(tmp_path: Path) -> None:
    """`mlflow server --app-name basic-auth` as compose runs it: no login, no alias change."""
    pytest.importorskip(
        "flask_wtf", reason="MLflow's basic-auth app needs Flask-WTF (mlflow[auth])"
    )
    admin = ("titanic-app", hashlib.sha256(str(tmp_path).encode()).hexdigest()[:24])
    reader = ("titanic-reader", "reader-" + admin[1])
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{tmp_path / 'auth.db'}\n"
        f"admin_username = {admin[0]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "topology-test-flask-secret",
    }
    procs = Processes(tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        procs.start(
            "mlflow-auth",
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--app-name",
                "basic-auth",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{tmp_path / 'mlflow.db'}",
                "--default-artifact-root",
                (tmp_path / "artifacts").as_uri(),
            ],
            env,
        )
        wait_for_http(f"{base}/health", 90)  # the one open path
        code, _ = _registry_call(
            base, "users/create", {"username": reader[0], "password": reader[1]}, admin
        )
        assert code == 200
        assert _registry_call(base, "registered-models/create", {"name": "m"}, admin)[0] == 200
        code, run = _registry_call(base, "runs/create", {"experiment_id": "0"}, admin)
        assert code == 200, run
        run_id = run["run"]["info"]["run_id"]
        version = {"name": "m", "source": f"runs:/{run_id}/model", "run_id": run_id}
        assert _registry_call(base, "model-versions/create", version, admin)[0] == 200
        alias = {"name": "m", "alias": "champion", "version": "1"}

        anonymous = _registry_call(base, "registered-models/alias", alias, None)
        wrong = _registry_call(base, "registered-models/alias", alias, (admin[0], "wrong-password"))
        read_only = _registry_call(base, "registered-models/alias", alias, reader)
        assert anonymous[0] == 401 and wrong[0] == 401, (anonymous, wrong)
        assert read_only[0] == 403, read_only
        looked = _registry_call(
            base, "registered-models/alias?name=m&alias=champion", {}, reader, method="GET"
        )
        assert looked[0] in (400, 404), looked  # refused changes left no alias behind

        assert _registry_call(base, "registered-models/alias", alias, admin)[0] == 200
        code, found = _registry_call(
            base, "registered-models/alias?name=m&alias=champion", {}, reader, method="GET"
        )
        assert code == 200 and found["model_version"]["version"] == "1"
        removal = {"name": "m", "alias": "champion"}
        gone = _registry_call(base, "registered-models/alias", removal, None, method="DELETE")
        assert gone[0] == 401, gone
        code, found = _registry_call(
            base, "registered-models/alias?name=m&alias=champion", {}, admin, method="GET"
        )
        assert code == 200 and found["model_version"]["version"] == "1"
    finally:
        assert procs.stop_all() == []
