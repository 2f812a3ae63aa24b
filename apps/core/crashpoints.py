"""Named crash points: tests make a process die at an exact step, as a kill would.

`crash_point("train.search")` exits the process at once (no clean-up, no `finally`, no
`atexit`) when settings.CRASH_POINT names that point, and does nothing otherwise; production
leaves CRASH_POINT empty. Every point is listed here so tests and the README name the same steps.
"""

import os
import sys

from django.conf import settings

CRASH_EXIT_CODE = 86

CRASH_POINTS: dict[str, str] = {
    "ingest.staged": "old files saved beside the new and the ingest journal written",
    "ingest.csv_written": "the new CSV replaced the old one; pointer and database still old",
    "ingest.dvc_added": "`dvc add` wrote the new pointer and cache object; not pushed yet",
    "ingest.pushed": "the new object is in the DVC remote; the database still names the old",
    "ingest.committed": "the new DataVersion is current; journal and backups not cleaned up",
    "train.search": "the grid search evaluated its first point (Spark running)",
    "register.before_version": "the search finished; no registry version created yet",
    "register.after_version": "the MLflow version exists; no database row yet",
    "register.row": "the `registering` row exists; scorer not verified yet",
    "register.gate": "scorer verified, feature profile and gate evidence stored; still registering",
    "promote.before_alias": "champion switched inside the open transaction; alias not moved",
    "promote.after_alias": "the champion alias moved; the database transaction not committed",
    "reload.loaded": "a web process loaded a new champion's scorer, before serving it",
}


def crash_point(name: str) -> None:
    """Exit the process now if `name` is the configured crash point (tests only)."""
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if name == settings.CRASH_POINT:
        sys.stderr.write(f"crash point {name}: exiting\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
