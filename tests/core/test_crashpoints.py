"""Named crash points: free when off, an immediate exit of the process when named."""

import os
import subprocess
import sys

import pytest

from apps.core.crashpoints import CRASH_EXIT_CODE, CRASH_POINTS, crash_point
from tests.support.processes import ROOT

SCRIPT = (
    "import django; django.setup(); from apps.core.crashpoints import crash_point; "
    "crash_point('train.search'); print('survived')"
)


def _run(point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "titanic_ops.settings"}
    env["TITANIC_CRASH_POINT"] = point
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_it_exits_at_the_named_point_and_nowhere_else() -> None:
    killed = _run("train.search")
    assert killed.returncode == CRASH_EXIT_CODE and "survived" not in killed.stdout
    assert "crash point train.search" in killed.stderr
    passed = _run("register.row")
    assert (passed.returncode, passed.stdout.strip()) == (0, "survived")


def test_it_refuses_an_unknown_point(settings: object) -> None:
    crash_point("ingest.staged")  # off: nothing happens
    with pytest.raises(ValueError, match="unknown crash point"):
        crash_point("nowhere")
    assert all(name.count(".") == 1 for name in CRASH_POINTS)
