"""gunicorn with two workers against PostgreSQL: promotion pickup, registry and database loss."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from apps.serving.models import InferenceLog
from tests.factories import SEED_EXAMPLE, model_version_install, user_in_role
from tests.support.processes import TcpLink, gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _call(url: str, body: Any = None, token: str = "") -> tuple[int, dict[str, Any], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data or token else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), error.headers


@pytest.fixture
def postgres(settings: Any) -> dict[str, Any]:
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("needs a network database (runs in the PostgreSQL pass of CI)")
    return db


def test_it_serves_through_promotion_registry_loss_and_database_loss(
    postgres: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    model_version_install(1)
    staff = user_in_role("ops", "operator", is_staff=True)
    token = Token.objects.create(user=staff).key
    link = TcpLink(int(postgres["PORT"] or 5432))
    env = {
        "DATABASE_URL": f"postgres://{postgres['USER']}@127.0.0.1:{link.port}/{postgres['NAME']}",
        "TITANIC_VAR_DIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # an unreachable registry
        "SERVING_VERSION_CHECK_SECONDS": "1",
    }
    with gunicorn(env, workers=2) as base:
        answers = [_call(f"{base}/predict_titanic", SEED_EXAMPLE) for _ in range(10)]
        assert {(code, body["model_version"]) for code, body, _ in answers} == {(200, "1")}

        model_version_install(2, intercept=2.0)  # promoted in the database
        promoted_at = time.monotonic()
        streak, answered = 0, len(answers)
        while streak < 20:  # 20 answers in a row from v2, whichever worker takes them
            code, body, _ = _call(f"{base}/predict_titanic", SEED_EXAMPLE)
            assert code == 200
            answered += 1
            streak = streak + 1 if body["model_version"] == "2" else 0
            assert time.monotonic() - promoted_at < 5, "a worker kept serving v1 for 5 s"
        pickup = time.monotonic() - promoted_at
        print(f"both workers served v2 {pickup:.2f} s after the promotion")

        started = time.monotonic()
        code, body, _ = _call(f"{base}/reload", token=token)
        assert code == 503 and time.monotonic() - started < 10
        assert "still serving v2" in body["detail"]
        assert _call(f"{base}/predict_titanic", SEED_EXAMPLE)[0] == 200
        answered += 1

        assert InferenceLog.objects.count() == answered  # every 200 has exactly one row
        link.cut()
        codes = []
        for _ in range(6):
            code, body, headers = _call(f"{base}/predict_titanic", SEED_EXAMPLE)
            codes.append(code)
            if code == 503:
                assert headers["Retry-After"]
        assert set(codes) == {503}, codes
        health = _call(f"{base}/health")[1]
        assert health["database"].startswith("unavailable") and not health["ready"]
    assert InferenceLog.objects.count() == answered  # no 503 left a row behind
