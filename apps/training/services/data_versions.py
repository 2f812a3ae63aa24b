"""Data versions: validate a CSV, version it with DVC and make it the current training data."""

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.training import contract, dvc
from apps.training.dataset import SOURCE_LABEL, builtin_titanic_bytes
from apps.training.models import DataVersion

logger = logging.getLogger(__name__)

DATA_FILE = "titanic.csv"
_CHUNK = 1 << 20  # hashing and copying go through 1 MiB at a time, whatever the file size


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
    return file_md5(csv_path) == md5


def file_md5(path: Path) -> str:
    """DVC's content hash of a file, read in chunks."""
    digest = hashlib.md5()  # noqa: S324 (DVC's hash)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _restore(saved: dict[Path, Path | None]) -> None:
    for path, backup in saved.items():
        if backup is None:
            path.unlink(missing_ok=True)
        else:
            os.replace(backup, path)


def _write_tracked(source: Path) -> dict[Path, Path | None]:
    """Copy the CSV in, `dvc add` and `dvc push` it; return backups of what was there before."""
    root = settings.DVC_ROOT
    csv_path, pointer = _tracked_paths()
    saved: dict[Path, Path | None] = {}
    for path in (csv_path, pointer):
        backup = path.with_name(f".{path.name}.previous")
        if path.exists():
            shutil.copyfile(path, backup)  # a file copy, never the file in memory
        saved[path] = backup if path.exists() else None
    try:
        dvc.ensure_repo(root)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        staging = csv_path.with_name(f".{DATA_FILE}.incoming")
        shutil.copyfile(source, staging)
        os.replace(staging, csv_path)
        relative = str(csv_path.relative_to(root))
        dvc.run(root, "add", "--quiet", relative)
        dvc.ensure_remote(root, settings.DVC_REMOTE_URL, settings.DVC_S3_ENDPOINT_URL)
        dvc.run(root, "push", "--quiet", relative + ".dvc")
    except Exception:
        _restore(saved)
        raise
    return saved


def data_version_ingest(
    *, data: bytes, source: str, parent: DataVersion | None = None, labelled_rows_added: int = 0
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
        )


def data_version_ingest_path(
    *, path: Path, source: str, parent: DataVersion | None = None, labelled_rows_added: int = 0
) -> IngestResult:
    """Validate the file at `path` in one streaming pass, version it, make it current."""
    scan = contract.scan_dataset(path)
    md5 = file_md5(path)
    with _file_lock("ingest"):
        existing = DataVersion.objects.filter(md5=md5).first()
        if existing and existing.is_current and _is_checked_out(md5):
            return IngestResult(existing, created=False)
        saved = None if _is_checked_out(md5) else _write_tracked(path)
        try:
            with transaction.atomic():
                DataVersion.objects.filter(is_current=True).update(is_current=False)
                if existing:
                    existing.is_current = True
                    existing.save(update_fields=["is_current"])
                    return IngestResult(existing, created=False)
                version = _data_version_create(
                    scan,
                    md5=md5,
                    size=path.stat().st_size,
                    source=source,
                    parent=parent,
                    labelled_rows_added=labelled_rows_added,
                )
        except Exception:
            if saved is not None:
                _restore(saved)
            raise
        if saved is not None:
            for backup in saved.values():
                if backup is not None:
                    backup.unlink(missing_ok=True)
    logger.info("ingested %s from %s", version, source)
    return IngestResult(version, created=True)


def _data_version_create(
    scan: contract.DatasetScan,
    *,
    md5: str,
    size: int,
    source: str,
    parent: DataVersion | None,
    labelled_rows_added: int,
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
    actual = file_md5(existing[0])
    if actual != data_version.md5:
        raise TrainingDataError(
            f"data version {data_version.pk}: {existing[0]} changed on disk "
            f"(hash mismatch: md5 {actual}, expected {data_version.md5}); "
            "re-ingest it or run `dvc checkout`"
        )
    return existing[0]


def data_version_copy(data_version: DataVersion, *, target: Path) -> Path:
    """Copy a data version's verified file to `target` (streamed) and check the copy's hash."""
    shutil.copyfile(data_version_path(data_version), target)
    if file_md5(target) != data_version.md5:
        raise TrainingDataError(f"data version {data_version.pk}: changed while being copied")
    return target


def data_version_bytes(data_version: DataVersion) -> bytes:
    """The verified bytes of a data version (small files only: prefer `data_version_path`)."""
    data = data_version_path(data_version).read_bytes()
    actual = hashlib.md5(data).hexdigest()  # noqa: S324 (DVC's hash)
    if actual != data_version.md5:
        raise TrainingDataError(
            f"data version {data_version.pk}: changed on disk "
            f"(hash mismatch: md5 {actual}, expected {data_version.md5}); "
            "re-ingest it or run `dvc checkout`"
        )
    return data
