"""The embedded platform: an admin account and a supervisor for web, worker and MLflow UI."""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

from django.conf import settings
from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class AdminAccount:
    username: str
    password: str | None  # None when the account existed and its password was kept
    created: bool


def admin_user_ensure() -> AdminAccount:
    """Create the platform's superuser once; its password comes from settings or is generated."""
    user_model = get_user_model()
    username = settings.TITANIC_ADMIN_USERNAME
    if user_model.objects.filter(username=username).exists():
        return AdminAccount(username=username, password=None, created=False)
    password = settings.TITANIC_ADMIN_PASSWORD or secrets.token_urlsafe(12)
    user_model.objects.create_superuser(username=username, email="", password=password)
    secret_file = settings.VAR_DIR / "admin-password.txt"
    secret_file.write_text(f"{username}\n{password}\n")
    secret_file.chmod(0o600)
    return AdminAccount(username=username, password=password, created=True)


@dataclass(frozen=True)
class Child:
    command: list[str]
    # An essential child's exit stops the platform; the others are restarted (a few times).
    essential: bool = True


def mlflow_ui_command() -> tuple[list[str] | None, str]:
    """`mlflow server` over the embedded store at MLFLOW_UI_BIND, or None and the reason why not."""
    uri = settings.MLFLOW_TRACKING_URI
    if not settings.MLFLOW_UI_BIND:
        return None, "not started (MLFLOW_UI_BIND is empty)"
    if uri.startswith(("http://", "https://", "databricks")):
        return None, f"not started: the tracking store is a server ({uri}), open its own UI"
    host, _, port = settings.MLFLOW_UI_BIND.rpartition(":")
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri]
    if settings.MLFLOW_ARTIFACT_ROOT:
        command += ["--default-artifact-root", settings.MLFLOW_ARTIFACT_ROOT]
    # Artifacts are files on this machine: the server reads them in place, proxying nothing.
    command += ["--no-serve-artifacts", "--host", host, "--port", port, "--workers", "1"]
    return command, f"on {settings.MLFLOW_UI_URL} (ready in ~10 s)"


def _children() -> dict[str, Child]:
    manage = str(settings.BASE_DIR / "manage.py")
    children = {
        "web": Child(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "titanic_ops.wsgi:application",
                "--bind",
                settings.WEB_BIND,
                "--workers",
                str(settings.WEB_WORKERS),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ]
        ),
        "worker": Child([sys.executable, manage, "qcluster"]),
    }
    mlflow_ui, _ = mlflow_ui_command()
    if mlflow_ui:
        # The UI only shows what the store holds: its crash must not stop serving or training.
        children["mlflow"] = Child(mlflow_ui, essential=False)
    return children


# A non-essential child that dies within STABLE_SECONDS of its start is restarted after 2, 4 and
# 8 s (RESTART_DELAY_SECONDS doubling), then left stopped: a busy port does not loop for ever.
STABLE_SECONDS = 60.0
RESTART_DELAY_SECONDS = 2.0
MAX_QUICK_RESTARTS = 3


def _start(child: Child) -> subprocess.Popen[bytes]:
    # Own process groups: a Ctrl-C in the terminal reaches only this supervisor, which stops the
    # children in order, instead of every process printing its own KeyboardInterrupt.
    return subprocess.Popen(child.command, cwd=settings.BASE_DIR, process_group=0)


def _reap_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill what is left of a finished child's process group (e.g. a server's own workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class _Restarts:
    """When to restart each non-essential child, and when to give up on it."""

    def __init__(self, names: list[str]) -> None:
        now = time.monotonic()
        self.started = dict.fromkeys(names, now)
        self.quick: dict[str, int] = {}
        self.due: dict[str, float] = {}
        self.given_up: set[str] = set()

    def waiting(self, name: str) -> bool:
        return name in self.due or name in self.given_up

    def exited(self, name: str, code: int | None) -> None:
        now = time.monotonic()
        stable = now - self.started[name] >= STABLE_SECONDS
        quick = 0 if stable else self.quick.get(name, 0)
        if quick >= MAX_QUICK_RESTARTS:
            self.given_up.add(name)
            print(f"{name} exited {code} again; not restarting it (the rest go on)", flush=True)
            return
        self.quick[name] = quick + 1
        delay = RESTART_DELAY_SECONDS * 2**quick
        print(f"{name} exited {code}; restarting it in {delay:g} s", flush=True)
        self.due[name] = now + delay

    def ready(self) -> list[str]:
        now = time.monotonic()
        names = [name for name, due in self.due.items() if due <= now]
        for name in names:
            del self.due[name]
            self.started[name] = now
        return names


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for proc in children.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _reap_group(proc)


def platform_run(*, poll_seconds: float = 0.5) -> int:
    """Run web, worker and MLflow UI until an essential one exits or SIGINT/SIGTERM; stop all."""
    specs = _children()
    children = {name: _start(child) for name, child in specs.items()}
    restarts = _Restarts(list(children))
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        while not stopping:
            exited = {
                name: proc.returncode
                for name, proc in children.items()
                if not restarts.waiting(name) and proc.poll() is not None
            }
            fatal = {name: code for name, code in exited.items() if specs[name].essential}
            if fatal:
                print(f"stopping: {', '.join(f'{n} exited {c}' for n, c in fatal.items())}")
                exit_code = 1
                break
            for name, code in exited.items():
                _reap_group(children[name])
                restarts.exited(name, code)
            for name in restarts.ready():
                children[name] = _start(specs[name])
            time.sleep(poll_seconds)
        if stopping:
            print(f"stopping {_names(list(children))}…", flush=True)
        _stop_all(children)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code
