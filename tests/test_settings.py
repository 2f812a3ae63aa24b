"""Start-up refuses bad configuration with a message that names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(show: str = "DEBUG", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PSI_"))}
    clean["DJANGO_SETTINGS_MODULE"] = "titanic_ops.settings"
    return subprocess.run(
        [sys.executable, "-c", CHECK.replace("settings.DEBUG", f"settings.{show}")],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a boolean"),
        ({"DJANGO_DEBUG": "yes"}, "DJANGO_DEBUG='yes' is not a boolean"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_DEBUG": "true", "MIN_INFER_ROWS": "fifty"}, "MIN_INFER_ROWS='fifty'"),
        ({"DJANGO_DEBUG": "true", "PSI_THRESHOLD": "-1"}, "PSI_THRESHOLD='-1'"),
        ({"DJANGO_DEBUG": "true", "AUTO_PROMOTE_TITANIC": "sometimes"}, "AUTO_PROMOTE_TITANIC"),
        ({"DJANGO_DEBUG": "true", "DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "true", "TRAINING_PROFILE": "huge"}, "TRAINING_PROFILE='huge'"),
        ({"DJANGO_DEBUG": "true", "PREDICT_BATCH_ROWS_RATE": "lots"}, "PREDICT_BATCH_ROWS_RATE"),
        ({"DJANGO_DEBUG": "true", "PREDICT_THROTTLE_RATE": "5/fortnight"}, "PREDICT_THROTTLE"),
        ({"DJANGO_DEBUG": "true", "MLFLOW_UI_BIND": "5500"}, "MLFLOW_UI_BIND='5500'"),
        ({"DJANGO_DEBUG": "true", "MLFLOW_UI_BIND": "localhost:99999"}, "MLFLOW_UI_BIND"),
    ],
)
def test_it_refuses_bad_values_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = _start(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_it_defaults_to_debug_off_with_a_key() -> None:
    result = _start(DJANGO_SECRET_KEY="k" * 40)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_it_allows_debug_without_a_key() -> None:
    result = _start(DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("bind", "url"),
    [("127.0.0.1:5611", "http://127.0.0.1:5611"), ("0.0.0.0:5612", "http://127.0.0.1:5612")],
)
def test_it_links_to_the_mlflow_ui_where_run_platform_binds_it(bind: str, url: str) -> None:
    result = _start(
        DJANGO_DEBUG="true", MLFLOW_UI_BIND=bind, MLFLOW_UI_URL="", show="MLFLOW_UI_URL"
    )
    assert result.stdout.strip() == url, result.stderr


PLACEHOLDERS = {
    "DJANGO_SECRET_KEY": "change-me-to-a-long-random-string",
    "DATABASE_URL": "postgres://titanic:change-me@db:5432/titanic",
    "TITANIC_ADMIN_PASSWORD": "change-me-too",
    "AWS_ACCESS_KEY_ID": "change-me-minio-user",
    "AWS_SECRET_ACCESS_KEY": "change-me-minio-password",
}
GOOD = {
    "DJANGO_SECRET_KEY": "Xq7" + "k2Pz9" * 10,
    "DATABASE_URL": "postgres://titanic:4f9d0c1e8b7a6f5e@db:5432/titanic",
    "TITANIC_ADMIN_PASSWORD": "b7c1e9f04a2d6e8c",
    "AWS_ACCESS_KEY_ID": "titanic-app",
    "AWS_SECRET_ACCESS_KEY": "0e4c8a1f9b3d7e2a6c5f",
}


@pytest.mark.parametrize("variable", sorted(PLACEHOLDERS))
def test_it_refuses_each_placeholder_secret_naming_it(variable: str) -> None:
    result = _start(**{**GOOD, variable: PLACEHOLDERS[variable]})
    assert result.returncode != 0
    assert f"{variable}" in result.stderr and "placeholder" in result.stderr
    assert PLACEHOLDERS[variable] not in result.stderr.splitlines()[-1]  # never echoed


@pytest.mark.parametrize(
    ("variable", "short"),
    [
        ("DJANGO_SECRET_KEY", "k" * 39),
        ("DATABASE_URL", "postgres://titanic:short@db:5432/titanic"),
        ("TITANIC_ADMIN_PASSWORD", "admin123"),
        ("AWS_SECRET_ACCESS_KEY", "minio123"),
    ],
)
def test_it_refuses_short_secrets_naming_them(variable: str, short: str) -> None:
    result = _start(**{**GOOD, variable: short})
    assert result.returncode != 0
    assert variable in result.stderr


def test_it_accepts_real_secrets_and_the_test_key() -> None:
    assert _start(**GOOD).returncode == 0
    # The key `make test` exports must keep working: tests run with DEBUG off.
    result = _start(DJANGO_SECRET_KEY="titanic-ops-local-test-key-not-for-production")
    assert result.returncode == 0, result.stderr
    placeholders_in_debug = _start(DJANGO_DEBUG="true", **PLACEHOLDERS)
    assert placeholders_in_debug.returncode == 0, placeholders_in_debug.stderr


def test_it_passes_check_deploy_with_the_production_example(tmp_path: Path) -> None:
    from tests.test_compose import _resolved_environment, _services, production_example

    env = _resolved_environment(_services()["web"], production_example())
    env.update(
        TITANIC_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="titanic_ops.settings",
        PATH=os.environ.get("PATH", ""),
        HOME=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_refuses_the_env_example_unchanged(tmp_path: Path) -> None:
    from tests.test_compose import _env_example, _resolved_environment, _services

    env = _resolved_environment(_services()["web"], _env_example())
    env.update(TITANIC_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="titanic_ops.settings")
    env["PATH"] = os.environ.get("PATH", "")
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0  # accepted unchanged before issue 14
    assert "DJANGO_SECRET_KEY is a placeholder" in result.stderr
