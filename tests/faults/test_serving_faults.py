"""A real gunicorn process: a tampered scorer is never served, readiness follows the database."""

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from apps.core.crashpoints import CRASH_EXIT_CODE
from apps.training.models import ModelVersion
from tests.dashboard.factories import registered_version
from tests.factories import SEED_EXAMPLE, model_version_install
from tests.faults.conftest import database_url, gunicorn_logged
from tests.support.processes import ROOT, TcpLink

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _call(url: str, body: Any = None, request_id: str = "") -> tuple[int, dict[str, Any], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if request_id:
        request.add_header("X-Request-ID", request_id)
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"].startswith("application/json"), "an HTML error page"
        return error.code, json.loads(error.read() or b"{}"), error.headers


def test_it_never_serves_a_tampered_scorer_and_fetches_it_again_once_restored(
    platform: dict[str, str], tmp_path: Path, settings: Any
) -> None:
    settings.MLFLOW_ARTIFACT_ROOT = (tmp_path / "mlartifacts").as_uri()
    registered_version(1, tmp_path=tmp_path, champion=True)  # a real run artifact and alias
    stored = next((tmp_path / "mlartifacts").rglob("scorer/scorer.json"))
    original = stored.read_bytes()
    stored.write_bytes(original + b" ")  # tampered in the store
    cached = settings.MODEL_CACHE_DIR / "titanic_spark_model-v1" / "scorer.json"
    log = tmp_path / "web.log"
    env = {**platform, "SERVING_VERSION_CHECK_SECONDS": "0"}
    with gunicorn_logged(env, log) as base:
        code, body, headers = _call(f"{base}/predict_titanic", SEED_EXAMPLE, "fault-tampered-1")
        assert (code, headers["Retry-After"]) == (503, "5")
        assert (
            "cannot load champion v1" in body["detail"] and "failed verification" in body["detail"]
        )
        assert not cached.exists(), "a refused download entered the cache"
        ready = _call(f"{base}/health/ready")
        assert ready[0] == 503 and "sha256" in ready[1]["last_error"]
        assert _call(f"{base}/health/live")[0] == 200

        stored.write_bytes(original)  # restored: the next request fetches and verifies it
        code, body, _ = _call(f"{base}/predict_titanic", SEED_EXAMPLE)
        assert (code, body["model_version"]) == (200, "1")
        assert cached.read_bytes() == original
    text = log.read_text()
    assert "Traceback" in text and "ScorerChecksumError" in text
    assert "[fault-tampered-1]: cannot load champion v1" in text  # the request id on the line

    cached.write_bytes(original + b"  ")  # tampered in the local cache
    with gunicorn_logged(env, log) as base:
        code, body, _ = _call(f"{base}/predict_titanic", SEED_EXAMPLE)
        assert (code, body["model_version"]) == (200, "1")  # refused, fetched again, verified
        assert cached.read_bytes() == original
    assert "fetching the scorer again" in log.read_text()  # the refusal is logged


def test_it_answers_503_for_readiness_while_the_database_is_cut(
    postgres: dict[str, Any], platform: dict[str, str], settings: Any
) -> None:
    model_version_install(1)
    link = TcpLink(int(postgres.get("PORT") or 5432))
    env = {**platform, "DATABASE_URL": database_url(postgres, port=link.port)}
    with gunicorn_logged(env, Path(platform["TITANIC_VAR_DIR"]) / "web.log") as base:
        code, body, _ = _call(f"{base}/health/ready")
        assert (code, body["ready"], body["model_version"]) == (200, True, "1")
        link.cut()
        code, body, headers = _call(f"{base}/health/ready")
        assert (code, body["ready"], headers["Retry-After"]) == (503, False, "5")
        assert body["database"].startswith("unavailable")
        assert _call(f"{base}/health")[0] == 503
        assert _call(f"{base}/health/live")[:2] == (200, {"live": True})
        link.restore()
        deadline = time.monotonic() + 15
        while (code := _call(f"{base}/health/ready")[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)  # polling with a deadline: the pool reconnects on the next request
        assert code == 200


def test_it_serves_the_champion_after_a_kill_during_reload(
    platform: dict[str, str], tmp_path: Path, settings: Any
) -> None:
    settings.MLFLOW_ARTIFACT_ROOT = (tmp_path / "mlartifacts").as_uri()
    registered_version(1, tmp_path=tmp_path, champion=True)
    script = (
        "import django; django.setup(); from apps.serving.loader import champion_cache; "
        "print(champion_cache.get().version)"
    )
    env = {**os.environ, **platform, "DJANGO_SETTINGS_MODULE": "titanic_ops.settings"}
    command = [sys.executable, "-c", script]
    killed = subprocess.run(
        command, cwd=ROOT, env={**env, "TITANIC_CRASH_POINT": "reload.loaded"}, capture_output=True
    )
    assert killed.returncode == CRASH_EXIT_CODE
    cached = settings.MODEL_CACHE_DIR / "titanic_spark_model-v1" / "scorer.json"
    expected = ModelVersion.objects.get(version=1).scorer_sha256
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == expected  # only verified files
    assert not list(cached.parent.glob(".download-*")), "a download folder was left behind"
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert (again.returncode, again.stdout.strip()) == (0, "1")
