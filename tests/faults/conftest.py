"""The fault suite: real commands in subprocesses, killed at named crash points, on PostgreSQL."""

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.processes import ROOT, gunicorn


@pytest.fixture
def postgres(settings: Any) -> dict[str, Any]:
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("the fault suite runs on PostgreSQL (the PostgreSQL pass of CI)")
    return db


def database_url(db: dict[str, Any], port: int | None = None) -> str:
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{db['USER']}{password}@{host}:{port or db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def platform(postgres: dict[str, Any], tmp_path: Path, settings: Any) -> dict[str, str]:
    """The environment of a private platform (stores under tmp_path), shared with this process."""
    var, repo = tmp_path / "var", tmp_path / "repo"
    var.mkdir()
    env = {
        "DATABASE_URL": database_url(postgres),
        "TITANIC_VAR_DIR": str(var),
        "TITANIC_DVC_ROOT": str(repo),
        "DVC_REMOTE_URL": str(tmp_path / "remote"),
        "DVC_S3_ENDPOINT_URL": "",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": (tmp_path / "mlartifacts").as_uri(),
        "SPARK_MASTER": "local[2]",
        "TITANIC_CRASH_POINT": "",
    }
    settings.VAR_DIR, settings.DVC_ROOT, settings.DATA_DIR = var, repo, repo / "data"
    settings.DVC_REMOTE_URL, settings.DVC_S3_ENDPOINT_URL = env["DVC_REMOTE_URL"], ""
    settings.MLFLOW_TRACKING_URI = env["MLFLOW_TRACKING_URI"]
    settings.MLFLOW_ARTIFACT_ROOT = env["MLFLOW_ARTIFACT_ROOT"]
    settings.MODEL_CACHE_DIR = var / "models"
    settings.CRASH_POINT = ""
    return env


def manage(env: dict[str, str], *args: str, crash: str = "") -> subprocess.CompletedProcess[str]:
    """Run `manage.py args` with the platform's environment, killed at `crash` if named."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env, "TITANIC_CRASH_POINT": crash},
        capture_output=True,
        text=True,
        timeout=900,
    )


def java_survivors(env: dict[str, str], timeout: float = 30) -> list[int]:
    """JVMs started for this platform (found by its private var dir) still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for proc in psutil.process_iter(["name"]):
            try:
                if "java" in (proc.info["name"] or "") and (
                    proc.environ().get("TITANIC_VAR_DIR") == env["TITANIC_VAR_DIR"]
                ):
                    found.append(proc.pid)
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)  # polling a condition with a deadline: the JVM exits on its stdin's EOF


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@contextmanager
def gunicorn_logged(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[str]:
    """gunicorn on a free port with its whole output (the platform's log) in `log`."""
    # A cold worker imports MLflow on its first download: slow on 2 busy cores.
    with gunicorn(
        env, workers=workers, log=log, ready="/health/live", options=("--timeout", "180")
    ) as base:
        yield base
