"""The embedded platform: admin account and the supervisor of web, worker and MLflow UI."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from apps.dashboard.supervisor import admin_user_ensure
from tests.support.processes import free_ports

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_it_creates_the_admin_once(settings, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.TITANIC_ADMIN_PASSWORD = ""
    first = admin_user_ensure()
    assert first.created and first.password
    user = get_user_model().objects.get(username=first.username)
    assert user.is_superuser and user.check_password(first.password)
    assert (tmp_path / "admin-password.txt").read_text().split() == [first.username, first.password]
    second = admin_user_ensure()
    assert not second.created and second.password is None
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_it_takes_the_admin_password_from_settings(settings, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    settings.TITANIC_ADMIN_PASSWORD = "a-long-chosen-password"
    account = admin_user_ensure()
    assert account.password == "a-long-chosen-password"


def _wait_for(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _group_members(pgid: int) -> set[str]:
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)
    return set(found.stdout.split())


@pytest.mark.slow
def test_it_runs_web_worker_and_mlflow_ui_and_stops_all_on_ctrl_c(tmp_path: Path) -> None:
    port, ui_port = free_ports(2)
    env = {
        **os.environ,
        "TITANIC_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'platform.sqlite3'}",
        "WEB_BIND": f"127.0.0.1:{port}",
        "MLFLOW_UI_BIND": f"127.0.0.1:{ui_port}",
        "DJANGO_DEBUG": "true",
    }
    for name in ("MLFLOW_UI_URL", "MLFLOW_UI_PROBE_URL", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)  # derived from the bind and TITANIC_VAR_DIR, as under make run
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_platform"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/admin/login/", 60) == 200
        # The UI over the embedded store (created under TITANIC_VAR_DIR), served by MLflow itself.
        assert _wait_for(f"http://127.0.0.1:{ui_port}/health", 90) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=5) as page:
            assert b"<title>MLflow</title>" in page.read()
        assert (tmp_path / "mlflow.db").exists()
        with pytest.raises(urllib.error.HTTPError) as not_ready:  # 503: no champion yet
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        ui = json.load(not_ready.value)["mlflow_ui"]
        assert ui == {"url": f"http://127.0.0.1:{ui_port}", "answers": True, "error": ""}
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 3
        # Each child leads its own process group: gunicorn's and uvicorn's workers included.
        members = set().union(*(_group_members(int(pid)) for pid in children))
        assert len(members) > 3
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=40) == 0
        output = proc.stdout.read() if proc.stdout else ""
        for pid in members:
            assert not Path(f"/proc/{pid}").exists(), output
        assert "qcluster" in output.lower() or "Q Cluster" in output
        assert f"MLflow UI on http://127.0.0.1:{ui_port}" in output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        assert "stopping web, worker and mlflow" in output
    finally:
        if proc.poll() is None:
            # A failure before Ctrl-C: the children lead their own groups, so stop each of them.
            leaders = subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            for leader in leaders:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(leader), signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
