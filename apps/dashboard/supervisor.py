"""The embedded platform: an admin account and a supervisor for web + worker processes."""

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


def _commands() -> dict[str, list[str]]:
    manage = str(settings.BASE_DIR / "manage.py")
    return {
        "web": [
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
        ],
        "worker": [sys.executable, manage, "qcluster"],
    }


def platform_run(*, poll_seconds: float = 0.5) -> int:
    """Run web and worker until one exits or we get SIGINT/SIGTERM; stop both; return a code."""
    # Own process groups: a Ctrl-C in the terminal reaches only this supervisor, which stops the
    # children in order, instead of every process printing its own KeyboardInterrupt.
    children = {
        name: subprocess.Popen(cmd, cwd=settings.BASE_DIR, process_group=0)
        for name, cmd in _commands().items()
    }
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    while not stopping:
        exited = {
            name: proc.returncode for name, proc in children.items() if proc.poll() is not None
        }
        if exited:
            print(f"stopping: {', '.join(f'{n} exited {c}' for n, c in exited.items())}")
            exit_code = 1
            break
        time.sleep(poll_seconds)
    if stopping:
        print(f"stopping {' and '.join(children)}…", flush=True)
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
    return exit_code
