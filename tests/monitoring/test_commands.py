"""Command-line rough edges: what a person sees when something is missing."""

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.monitoring.management.commands.simulate_traffic import platform_url

ROOT = Path(__file__).resolve().parents[2]


def test_it_refuses_to_start_without_a_key_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr and "make manage" in result.stderr


def test_it_sends_traffic_to_the_platform_s_own_address(settings: Any) -> None:
    settings.WEB_BIND = "0.0.0.0:9191"
    assert platform_url() == "http://127.0.0.1:9191"
    settings.WEB_BIND = "10.0.0.5:8000"
    assert platform_url() == "http://10.0.0.5:8000"


@pytest.mark.django_db
def test_it_says_clearly_when_nothing_answers(settings: Any, ingested: Any) -> None:
    with socket.socket() as sock:  # a free port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.WEB_BIND = f"127.0.0.1:{port}"
    with pytest.raises(CommandError) as error:
        call_command("simulate_traffic", "--rows", "3")
    message = str(error.value)
    assert f"nothing answers at http://127.0.0.1:{port}" in message
    assert "make run" in message and "--url" in message
