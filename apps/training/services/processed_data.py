"""The DVC pipeline's typed Parquet, found for a data version (or the reason it cannot be used).

`dvc repro preprocess` writes `data/processed/titanic.parquet` and records in `dvc.lock` the md5 of
the CSV it read and of the file it wrote. A training job uses that file only when both still hold
for its own data version; otherwise the job writes the same Parquet itself from the CSV (the
stage's code, so the bytes are the same), unless the caller requires the pipeline's file.
"""

import shutil
from pathlib import Path

from django.conf import settings

from apps.training import dvc
from apps.training.models import DataVersion

PIPELINE_CSV = "data/titanic.csv"
PIPELINE_PARQUET = "data/processed/titanic.parquet"
STAGE = "preprocess"


class ProcessedDataMissing(RuntimeError):
    """The pipeline's Parquet was required and is missing or not this data version's."""


def pipeline_parquet_copy(data_version: DataVersion, destination: Path) -> None:
    """Copy the pipeline's Parquet for `data_version` to `destination`, verified against dvc.lock.

    Raises ProcessedDataMissing with the reason (and the command that fixes it) when the file is
    missing, was made from another CSV, or differs from what dvc.lock records.
    """
    root = Path(settings.DVC_ROOT)
    parquet = root / PIPELINE_PARQUET
    locked = dvc.locked_md5s(root / "dvc.lock", STAGE)
    csv_md5, parquet_md5 = locked.get(PIPELINE_CSV), locked.get(PIPELINE_PARQUET)
    if csv_md5 is None or parquet_md5 is None or not parquet.is_file():
        raise ProcessedDataMissing(
            f"{PIPELINE_PARQUET} has not been made (run `dvc repro preprocess`)"
        )
    if csv_md5 != data_version.md5:
        raise ProcessedDataMissing(
            f"{PIPELINE_PARQUET} was made from another CSV (md5 {csv_md5[:8]}; data "
            f"v{data_version.pk} is {data_version.md5[:8]}): run `dvc repro preprocess`"
        )
    shutil.copyfile(parquet, destination)  # a private copy: a later `dvc repro` cannot change it
    if dvc.file_md5(destination) != parquet_md5:
        destination.unlink()
        raise ProcessedDataMissing(
            f"{PIPELINE_PARQUET} differs from what dvc.lock records: run `dvc repro preprocess`"
        )
