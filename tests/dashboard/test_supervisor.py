"""The supervisor's policy with stand-in children: essential ones stop all, the UI is restarted."""

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from apps.dashboard import supervisor
from apps.dashboard.supervisor import Child, mlflow_ui_command, platform_run

SLEEP = ["sleep", "60"]


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _run_for(seconds: float) -> int:
    """platform_run until a SIGTERM arrives after `seconds` (what `docker stop` or kill sends)."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        return platform_run(poll_seconds=0.02)
    finally:
        timer.cancel()


def test_it_restarts_a_dying_ui_a_few_times_then_leaves_it(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    children = {
        "web": Child(SLEEP),
        "worker": Child(SLEEP),
        "mlflow": Child(["sh", "-c", "echo started; exit 3"], essential=False),
    }
    monkeypatch.setattr(supervisor, "_children", lambda: children)
    monkeypatch.setattr(supervisor, "RESTART_DELAY_SECONDS", 0.05)
    previous = signal.getsignal(signal.SIGTERM)
    assert _run_for(1.5) == 0  # the UI's failures did not stop the platform
    out = capfd.readouterr().out
    assert out.count("started") == 1 + supervisor.MAX_QUICK_RESTARTS
    assert "mlflow exited 3; restarting it in 0.05 s" in out
    assert "mlflow exited 3; restarting it in 0.2 s" in out
    assert "mlflow exited 3 again; not restarting it" in out
    assert "stopping web, worker and mlflow…" in out
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers given back


def test_it_stops_everything_when_an_essential_child_exits(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    started = tmp_path / "pids"
    sleeper = ["sh", "-c", f'echo $$ >> "{started}"; exec sleep 60']
    children = {
        "web": Child(["sh", "-c", "sleep 0.3; exit 2"]),
        "worker": Child(sleeper),
        "mlflow": Child(sleeper, essential=False),
    }
    monkeypatch.setattr(supervisor, "_children", lambda: children)
    assert _run_for(10) == 1
    assert "stopping: web exited 2" in capfd.readouterr().out
    pids = [int(pid) for pid in started.read_text().split()]
    assert len(pids) == 2 and not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_it_runs_mlflow_server_over_the_embedded_store(settings: Any) -> None:
    settings.MLFLOW_TRACKING_URI = "sqlite:////srv/var/mlflow.db"
    settings.MLFLOW_ARTIFACT_ROOT = "file:///srv/var/mlartifacts"
    settings.MLFLOW_UI_BIND = "127.0.0.1:5577"
    settings.MLFLOW_UI_URL = "http://127.0.0.1:5577"
    command, said = mlflow_ui_command()
    assert command is not None and command[1:4] == ["-m", "mlflow", "server"]
    assert _option(command, "--backend-store-uri") == "sqlite:////srv/var/mlflow.db"
    assert _option(command, "--default-artifact-root") == "file:///srv/var/mlartifacts"
    assert [_option(command, o) for o in ("--host", "--port", "--workers")] == [
        "127.0.0.1",
        "5577",
        "1",
    ]
    assert said == "on http://127.0.0.1:5577 (ready in ~10 s)"


@pytest.mark.parametrize(
    ("bind", "uri", "reason"),
    [
        ("", "sqlite:////srv/mlflow.db", "MLFLOW_UI_BIND is empty"),
        ("127.0.0.1:5500", "http://mlflow:5500", "the tracking store is a server"),
    ],
)
def test_it_starts_no_ui_without_a_bind_or_over_a_server(
    settings: Any, bind: str, uri: str, reason: str
) -> None:
    settings.MLFLOW_UI_BIND, settings.MLFLOW_TRACKING_URI = bind, uri
    command, said = mlflow_ui_command()
    assert command is None and reason in said
