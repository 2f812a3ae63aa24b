#!/usr/bin/env python
"""Django's command-line utility for Titanic Ops."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "titanic_ops.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings: a refusal is one line)
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: {exc}; or run it as `make manage ARGS='...'`")
    try:
        execute_from_command_line(sys.argv)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C: stop quietly, with the shell's code for SIGINT


if __name__ == "__main__":
    main()
