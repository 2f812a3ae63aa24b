"""Start-up refuses bad configuration with a message that names the variable."""

import os
import subprocess
import sys

import pytest

CHECK = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PSI_"))}
    clean["DJANGO_SETTINGS_MODULE"] = "titanic_ops.settings"
    return subprocess.run(
        [sys.executable, "-c", CHECK],
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
