"""`ingest_data` killed at every named step: after recovery, all old or all new, never a mix."""

from pathlib import Path
from typing import Any

import pytest

from apps.core.crashpoints import CRASH_EXIT_CODE
from apps.training import dvc
from apps.training.models import DataVersion
from apps.training.services.data_versions import data_version_recover
from tests.faults.conftest import manage, md5_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Before the database commit a kill is undone; after it the new version stays.
POINTS = {
    "ingest.staged": "old",
    "ingest.csv_written": "old",
    "ingest.dvc_added": "old",
    "ingest.pushed": "old",
    "ingest.committed": "new",
}


def _consistent(platform: dict[str, str]) -> str:
    """The md5 on which CSV, pointer, DVC cache, DVC remote and the current row all agree."""
    data = Path(platform["TITANIC_DVC_ROOT"]) / "data"
    current = DataVersion.objects.get(is_current=True).md5
    assert md5_of(data / "titanic.csv") == current
    assert dvc.pointer_md5(data / "titanic.csv.dvc") == current
    assert dvc.cache_path(Path(platform["TITANIC_DVC_ROOT"]), current).exists()
    remote = Path(platform["DVC_REMOTE_URL"]) / "files" / "md5" / current[:2] / current[2:]
    assert remote.exists(), "the current version is not in the DVC remote"
    assert not (Path(platform["TITANIC_VAR_DIR"]) / "ingest-journal.json").exists()
    assert not list(data.glob(".*.previous")), "backups left behind"
    return current


def test_it_keeps_data_consistent_after_a_kill_at_every_ingest_step(
    platform: dict[str, str], titanic_csv: Path, tmp_path: Path, settings: Any
) -> None:
    smaller = tmp_path / "smaller.csv"
    smaller.write_bytes(b"\n".join(titanic_csv.read_bytes().splitlines()[:-40]) + b"\n")
    assert manage(platform, "ingest_data", str(titanic_csv)).returncode == 0
    current, other = titanic_csv, smaller  # each round switches from `current` to `other`
    assert _consistent(platform) == md5_of(current)
    seen = {}
    for point, expected in POINTS.items():
        killed = manage(platform, "ingest_data", str(other), crash=point)
        assert killed.returncode == CRASH_EXIT_CODE, (point, killed.stderr[-2000:])
        outcome = data_version_recover()  # what the next data command does first
        state = _consistent(platform)
        assert state == md5_of(current if expected == "old" else other), point
        seen[point] = f"{expected}; recovery: {outcome or 'nothing to do'}"
        if expected == "old":  # the next operation succeeds at once
            assert manage(platform, "ingest_data", str(other)).returncode == 0
            assert _consistent(platform) == md5_of(other)
        current, other = other, current
    assert DataVersion.objects.count() == 2  # no half-recorded rows
    for point, what in seen.items():
        print(f"{point}: {what}")
