"""Data versions: validate a CSV, version it with DVC and make it the current training data."""

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.training import contract, dvc
from apps.training.dataset import SOURCE_LABEL, builtin_titanic_bytes
from apps.training.models import DataVersion

logger = logging.getLogger(__name__)

DATA_FILE = "titanic.csv"


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
    return hashlib.md5(csv_path.read_bytes()).hexdigest() == md5  # noqa: S324 (DVC's hash)


def _restore(saved: dict[Path, bytes | None]) -> None:
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(content)


def _write_tracked(data: bytes) -> dict[Path, bytes | None]:
    """Write the CSV, `dvc add` and `dvc push` it; return what was there before."""
    root = settings.DVC_ROOT
    csv_path, pointer = _tracked_paths()
    saved = {path: (path.read_bytes() if path.exists() else None) for path in (csv_path, pointer)}
    try:
        dvc.ensure_repo(root)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        staging = csv_path.with_name(f".{DATA_FILE}.incoming")
        staging.write_bytes(data)
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
    *,
    data: bytes,
    source: str,
    parent: DataVersion | None = None,
    labelled_rows_added: int = 0,
    sources: list[dict[str, Any]] | None = None,
) -> IngestResult:
    """Validate `data`, version it with DVC and record it as the current DataVersion."""
    dataset = contract.parse_dataset(data)
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 (DVC's content hash)
    with _file_lock("ingest"):
        existing = DataVersion.objects.filter(md5=md5).first()
        if existing and existing.is_current and _is_checked_out(md5):
            return IngestResult(existing, created=False)
        saved = None if _is_checked_out(md5) else _write_tracked(data)
        try:
            with transaction.atomic():
                DataVersion.objects.filter(is_current=True).update(is_current=False)
                if existing:
                    existing.is_current = True
                    existing.save(update_fields=["is_current"])
                    return IngestResult(existing, created=False)
                version = _data_version_create(
                    dataset,
                    md5=md5,
                    size=len(data),
                    source=source,
                    parent=parent,
                    labelled_rows_added=labelled_rows_added,
                    sources=sources or [],
                )
        except Exception:
            if saved is not None:
                _restore(saved)
            raise
    logger.info("ingested %s from %s", version, source)
    return IngestResult(version, created=True)


def _data_version_create(
    dataset: contract.Dataset,
    *,
    md5: str,
    size: int,
    source: str,
    parent: DataVersion | None,
    labelled_rows_added: int,
    sources: list[dict[str, Any]],
) -> DataVersion:
    summary = contract.summarize(dataset.rows)
    return DataVersion.objects.create(
        md5=md5,
        size_bytes=size,
        rows=len(dataset.rows),
        positives=sum(row["Survived"] for row in dataset.rows),
        columns=dataset.columns,
        missing={name: column["missing"] for name, column in summary.items()},
        summary=summary,
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
        data = Path(path).read_bytes()
    except OSError as exc:
        raise contract.ContractError(f"cannot read {path}: {exc.strerror}") from None
    return data_version_ingest(data=data, source=str(Path(path).resolve()))


class TrainingDataError(Exception):
    """The data version to train on is missing or its file does not match its hash."""


def data_version_bytes(data_version: DataVersion) -> bytes:
    """The verified bytes of a data version: the working copy if current, else the DVC cache."""
    csv_path, _ = _tracked_paths()
    candidates = [csv_path] if data_version.is_current else []
    candidates.append(dvc.cache_path(settings.DVC_ROOT, data_version.md5))
    existing = [path for path in candidates if path.exists()]
    if not existing:
        raise TrainingDataError(
            f"data version {data_version.pk}: file missing ({candidates[0]}); "
            "restore it with `dvc pull` or re-ingest"
        )
    data = existing[0].read_bytes()
    actual = hashlib.md5(data).hexdigest()  # noqa: S324 (DVC's hash)
    if actual != data_version.md5:
        raise TrainingDataError(
            f"data version {data_version.pk}: {existing[0]} changed on disk "
            f"(hash mismatch: md5 {actual}, expected {data_version.md5}); "
            "re-ingest it or run `dvc checkout`"
        )
    return data
