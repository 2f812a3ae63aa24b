"""Run management commands the way scripts do: capture stdout and the exit code."""

import io
import json
from typing import Any

from django.core.management import call_command


def drift_check() -> tuple[int, dict[str, Any]]:
    """`manage.py drift_check --json`: its exit code and the report it printed."""
    out = io.StringIO()
    try:
        call_command("drift_check", "--json", stdout=out)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(out.getvalue())
