"""Data versions: validate a CSV, version it with DVC and make it the current training data."""

import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.crashpoints import crash_point
from apps.training import contract, dvc
from apps.training.dataset import SOURCE_LABEL, builtin_titanic_bytes
from apps.training.models import DataVersion

logger = logging.getLogger(__name__)

DATA_FILE = "titanic.csv"
_CHUNK = 1 << 20  # files are copied 1 MiB at a time, whatever their size


@dataclass(frozen=True)
class IngestResult:
    data_version: DataVersion
    created: bool


@contextmanager
def _file_lock(name: str) -> Iterator[None]:
    lock_dir = settings.VAR_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tracked_paths() -> tuple[Path, Path]:
    csv_path = settings.DATA_DIR / DATA_FILE
    return csv_path, csv_path.with_name(DATA_FILE + ".dvc")


def _is_checked_out(md5: str) -> bool:
    csv_path, pointer = _tracked_paths()
    if dvc.pointer_md5(pointer) != md5 or not csv_path.exists():
        return False
    return dvc.file_md5(csv_path) == md5


def _journal_path() -> Path:
    return settings.VAR_DIR / "ingest-journal.json"


def _backup_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.previous")


def _write_atomic(path: Path, data: bytes) -> None:
    staging = path.with_name(f".{path.name}.incoming")
    with open(staging, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)


def _copy_atomic(source: Path, path: Path) -> None:
    """Copy `source` over `path` in chunks, on disk before the switch (never held in memory)."""
    staging = path.with_name(f".{path.name}.incoming")
    with source.open("rb") as reader, open(staging, "wb") as handle:
        while chunk := reader.read(_CHUNK):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)


def _ingest_begin(md5: str) -> None:
    """Save the tracked files beside themselves, then journal the ingest (the undo record)."""
    saved: dict[str, bool] = {}
    for path in _tracked_paths():
        if path.exists():
            _copy_atomic(path, _backup_path(path))
        saved[path.name] = path.exists()
    journal = {"md5": md5, "saved": saved}
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    _write_atomic(_journal_path(), json.dumps(journal).encode())


def _ingest_end() -> None:
    """Forget the undo record: the database decided, the files agree with it."""
    _journal_path().unlink(missing_ok=True)
    for path in _tracked_paths():
        _backup_path(path).unlink(missing_ok=True)


def _ingest_undo(journal: dict[str, Any]) -> None:
    saved: dict[str, bool] = journal.get("saved") or {}
    for path in _tracked_paths():
        if saved.get(path.name):
            backup = _backup_path(path)
            if backup.exists():
                _copy_atomic(backup, path)
        else:
            path.unlink(missing_ok=True)
    _ingest_end()


def _ingest_recover_locked() -> str:
    journal_path = _journal_path()
    if not journal_path.exists():
        return ""
    journal = json.loads(journal_path.read_text() or "{}")
    current = DataVersion.objects.filter(is_current=True).values_list("md5", flat=True).first()
    if current is not None and current == journal.get("md5"):
        _ingest_end()  # the commit point was passed: the new files stay
        outcome = f"ingest of {journal.get('md5')} had committed: kept the new files"
    else:
        _ingest_undo(journal)
        outcome = f"ingest of {journal.get('md5')} had not committed: restored the previous files"
    logger.warning("data recovery: %s", outcome)
    return outcome


def data_version_recover() -> str:
    """Finish or undo an ingest that a crash interrupted; say what was done ("" when nothing)."""
    if not _journal_path().exists():
        return ""
    with _file_lock("ingest"):  # a live ingest holds the lock: never undo one still running
        return _ingest_recover_locked()


def _write_tracked(source: Path, *, md5: str) -> None:
    """Copy the CSV in, `dvc add` and `dvc push` it; the journal can undo every step."""
    root = settings.DVC_ROOT
    csv_path, _ = _tracked_paths()
    dvc.ensure_repo(root)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    _ingest_begin(md5)
    crash_point("ingest.staged")
    _copy_atomic(source, csv_path)
    crash_point("ingest.csv_written")
    relative = str(csv_path.relative_to(root))
    dvc.run(root, "add", "--quiet", relative)
    crash_point("ingest.dvc_added")
    dvc.ensure_remote(root, settings.DVC_REMOTE_URL, settings.DVC_S3_ENDPOINT_URL)
    dvc.run(root, "push", "--quiet", relative + ".dvc")
    crash_point("ingest.pushed")


def data_version_ingest(
    *,
    data: bytes,
    source: str,
    parent: DataVersion | None = None,
    labelled_rows_added: int = 0,
    sources: list[dict[str, Any]] | None = None,
) -> IngestResult:
    """Validate `data`, version it with DVC and record it as the current DataVersion."""
    staging_dir = settings.VAR_DIR / "incoming"
    staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging_dir, suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        return data_version_ingest_path(
            path=Path(handle.name),
            source=source,
            parent=parent,
            labelled_rows_added=labelled_rows_added,
            sources=sources,
        )


def data_version_ingest_path(
    *,
    path: Path,
    source: str,
    parent: DataVersion | None = None,
    labelled_rows_added: int = 0,
    sources: list[dict[str, Any]] | None = None,
) -> IngestResult:
    """Validate the file at `path` in one streaming pass, version it, make it current.

    One commit point: the database transaction that makes the new version current. Before it
    a crash is undone from the journal, after it the journal is only tidied away.
    """
    scan = contract.scan_dataset(path)
    md5 = dvc.file_md5(path)
    with _file_lock("ingest"):
        _ingest_recover_locked()
        existing = DataVersion.objects.filter(md5=md5).first()
        if existing and existing.is_current and _is_checked_out(md5):
            return IngestResult(existing, created=False)
        written = not _is_checked_out(md5)
        try:
            if written:
                _write_tracked(path, md5=md5)
            with transaction.atomic():
                DataVersion.objects.filter(is_current=True).update(is_current=False)
                if existing:
                    existing.is_current = True
                    existing.save(update_fields=["is_current"])
                    version, created = existing, False
                else:
                    version = _data_version_create(
                        scan,
                        md5=md5,
                        size=path.stat().st_size,
                        source=source,
                        parent=parent,
                        labelled_rows_added=labelled_rows_added,
                        sources=sources or [],
                    )
                    created = True
        except BaseException:
            if written and _journal_path().exists():
                _ingest_undo(json.loads(_journal_path().read_text()))
            raise
        crash_point("ingest.committed")
        _ingest_end()
    if created:
        logger.info("ingested %s from %s", version, source)
    return IngestResult(version, created=created)


def _data_version_create(
    scan: contract.DatasetScan,
    *,
    md5: str,
    size: int,
    source: str,
    parent: DataVersion | None,
    labelled_rows_added: int,
    sources: list[dict[str, Any]],
) -> DataVersion:
    return DataVersion.objects.create(
        md5=md5,
        size_bytes=size,
        rows=scan.rows,
        positives=scan.positives,
        columns=scan.columns,
        missing={name: column["missing"] for name, column in scan.summary.items()},
        summary=scan.summary,
        source=source,
        parent=parent,
        labelled_rows_added=labelled_rows_added,
        sources=sources,
        is_current=True,
    )


def data_version_ingest_file(*, path: Path | None) -> IngestResult:
    """Ingest a user's CSV file, or the built-in Kaggle data set when `path` is None."""
    if path is None:
        data = builtin_titanic_bytes(settings.DATASET_CACHE_DIR)
        return data_version_ingest(data=data, source=SOURCE_LABEL)
    try:
        with Path(path).open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise contract.ContractError(f"cannot read {path}: {exc.strerror}") from None
    return data_version_ingest_path(path=Path(path), source=str(Path(path).resolve()))


class TrainingDataError(Exception):
    """The data version to train on is missing or its file does not match its hash."""


def data_version_path(data_version: DataVersion) -> Path:
    """The verified file of a data version: the working copy if current, else the DVC cache."""
    csv_path, _ = _tracked_paths()
    candidates = [csv_path] if data_version.is_current else []
    candidates.append(dvc.cache_path(settings.DVC_ROOT, data_version.md5))
    existing = [path for path in candidates if path.exists()]
    if not existing:
        raise TrainingDataError(
            f"data version {data_version.pk}: file missing ({candidates[0]}); "
            "restore it with `dvc pull` or re-ingest"
        )
    actual = dvc.file_md5(existing[0])
    if actual != data_version.md5:
        raise TrainingDataError(
            f"data version {data_version.pk}: {existing[0]} changed on disk "
            f"(hash mismatch: md5 {actual}, expected {data_version.md5}); "
            "re-ingest it or run `dvc checkout`"
        )
    return existing[0]


def data_version_copy(data_version: DataVersion, *, target: Path) -> Path:
    """Copy a data version's verified file to `target` (streamed) and check the copy's hash."""
    _copy_atomic(data_version_path(data_version), target)
    if dvc.file_md5(target) != data_version.md5:
        raise TrainingDataError(f"data version {data_version.pk}: changed while being copied")
    return target


def data_version_bytes(data_version: DataVersion) -> bytes:
    """The verified bytes of a data version (small files only: prefer `data_version_path`)."""
    return data_version_path(data_version).read_bytes()
