"""The embedded platform: admin account and the web + worker supervisor (real processes)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from apps.dashboard.supervisor import admin_user_ensure

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.slow
def test_it_runs_web_and_worker_and_stops_both_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TITANIC_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'platform.sqlite3'}",
        "WEB_BIND": f"127.0.0.1:{port}",
        "DJANGO_DEBUG": "true",
    }
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
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 2
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(timeout=40) == 0
        output = proc.stdout.read() if proc.stdout else ""
        for pid in children:
            assert not Path(f"/proc/{pid}").exists(), output
        assert "qcluster" in output.lower() or "Q Cluster" in output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        assert "stopping web and worker" in output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
