"""manage.py ingest_data against a real DVC repository and remote (no mocks)."""

import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.training import dvc
from apps.training.models import DataVersion

pytestmark = pytest.mark.django_db


def _snapshot(root: Path) -> dict[str, bytes]:
    data = root / "data"
    return {p.name: p.read_bytes() for p in sorted(data.iterdir()) if p.is_file()}


def _ingest(*args: str) -> str:
    out = io.StringIO()
    call_command("ingest_data", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ingested(dvc_repo: Path) -> DataVersion:
    output = _ingest()
    assert "created data version" in output
    return DataVersion.objects.get()


def test_it_versions_the_builtin_data_set(ingested: DataVersion, dvc_repo: Path) -> None:
    csv_bytes = (dvc_repo / "data" / "titanic.csv").read_bytes()
    assert ingested.md5 == hashlib.md5(csv_bytes).hexdigest()
    assert (ingested.rows, ingested.positives, ingested.is_current) == (891, 342, True)
    assert ingested.missing["Age"] == 177
    assert ingested.source.startswith("builtin:dataprep==0.4.1")
    assert dvc.pointer_md5(dvc_repo / "data" / "titanic.csv.dvc") == ingested.md5
    status = dvc.run(dvc_repo, "status")
    assert "up to date" in status
    cloud = dvc.run(dvc_repo, "status", "--cloud")
    assert "in sync" in cloud


def test_it_creates_nothing_for_the_same_bytes(ingested: DataVersion, dvc_repo: Path) -> None:
    before = _snapshot(dvc_repo)
    assert "unchanged" in _ingest()
    assert DataVersion.objects.count() == 1
    assert _snapshot(dvc_repo) == before


def _assert_rejected(path: Path, message: str, root: Path) -> None:
    before = _snapshot(root)
    with pytest.raises(CommandError, match=message):
        _ingest(str(path))
    assert DataVersion.objects.count() == 1
    assert DataVersion.objects.get().is_current
    assert _snapshot(root) == before


def test_it_rejects_a_file_without_fare(
    ingested: DataVersion, dvc_repo: Path, tmp_path: Path, titanic_bytes: bytes
) -> None:
    rows = list(csv.reader(io.StringIO(titanic_bytes.decode())))
    fare = rows[0].index("Fare")
    out = io.StringIO()
    csv.writer(out).writerows([row[:fare] + row[fare + 1 :] for row in rows])
    path = tmp_path / "no_fare.csv"
    path.write_text(out.getvalue())
    _assert_rejected(path, "missing required column.*Fare", dvc_repo)


def test_it_rejects_pclass_7_in_row_12(
    ingested: DataVersion, dvc_repo: Path, tmp_path: Path, titanic_bytes: bytes
) -> None:
    rows = list(csv.reader(io.StringIO(titanic_bytes.decode())))
    rows[12][rows[0].index("Pclass")] = "7"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path = tmp_path / "pclass7.csv"
    path.write_text(out.getvalue())
    _assert_rejected(path, "row 12, column Pclass: is '7'", dvc_repo)


def test_it_rejects_empty_binary_and_unreadable_files(
    ingested: DataVersion, dvc_repo: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _assert_rejected(empty, "empty", dvc_repo)
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 10)
    _assert_rejected(binary, "not a text CSV", dvc_repo)
    _assert_rejected(tmp_path / "nowhere.csv", "cannot read", dvc_repo)


def test_it_makes_a_new_version_current_and_can_switch_back(
    ingested: DataVersion, dvc_repo: Path, tmp_path: Path, titanic_bytes: bytes
) -> None:
    smaller = tmp_path / "smaller.csv"
    smaller.write_bytes(b"\n".join(titanic_bytes.splitlines()[:400]) + b"\n")
    assert "created data version" in _ingest(str(smaller))
    second = DataVersion.objects.get(is_current=True)
    assert (second.rows, second.pk) == (399, ingested.pk + 1)
    original = tmp_path / "original.csv"
    original.write_bytes(titanic_bytes)
    assert "unchanged" in _ingest(str(original))
    assert DataVersion.objects.get(is_current=True).pk == ingested.pk
    assert (dvc_repo / "data" / "titanic.csv").read_bytes() == titanic_bytes


def test_it_restores_the_file_from_the_remote(ingested: DataVersion, dvc_repo: Path) -> None:
    csv_path = dvc_repo / "data" / "titanic.csv"
    original = csv_path.read_bytes()
    csv_path.unlink()
    cache = dvc_repo / ".dvc" / "cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    dvc.run(dvc_repo, "pull")
    assert csv_path.read_bytes() == original


def test_it_keeps_the_old_files_when_dvc_fails(
    ingested: DataVersion, dvc_repo: Path, tmp_path: Path, titanic_bytes: bytes, settings
) -> None:
    settings.DVC_REMOTE_URL = "s3://no-such-bucket/at-all"
    settings.DVC_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    changed = tmp_path / "changed.csv"
    changed.write_bytes(b"\n".join(titanic_bytes.splitlines()[:300]) + b"\n")
    before = _snapshot(dvc_repo)
    with pytest.raises(CommandError, match="dvc push"):
        _ingest(str(changed))
    assert _snapshot(dvc_repo) == before
    assert DataVersion.objects.count() == 1


def test_it_runs_as_a_real_command(dvc_repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest_data", str(dvc_repo / "absent.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "ingest rejected: cannot read" in result.stderr
