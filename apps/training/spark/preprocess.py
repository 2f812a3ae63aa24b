"""The DVC pipeline's `preprocess` stage: the contract-checked CSV as one typed Parquet file.

`dvc repro` runs this module (see dvc.yaml); a training job reads the file it wrote when it belongs
to the job's data version, and otherwise writes the same file itself with `processed_write`. The
output is one Parquet file whose bytes depend only on the input rows and the stage's parameters,
so two regenerations are identical and DVC's hash of it is stable.

Run by hand: python -m apps.training.spark.preprocess [--input CSV] [--output PARQUET]
It needs no database or Django settings: only Spark, read from SPARK_MASTER / SPARK_DRIVER_MEMORY.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from apps.training.dvc import file_md5
from apps.training.params import ParamsError, preprocess_compression
from apps.training.spark.pipeline import LABEL, TYPES, typed_columns
from apps.training.spark.session import spark_session

CSV = Path("data/titanic.csv")
PARQUET = Path("data/processed/titanic.parquet")
PARAMS = Path("params.yaml")
ROW_GROUP_ROWS = 262_144  # rows per row group (and per batch held while rewriting)
# The platform's own defaults for these two (titanic_ops/settings.py); the stage runs without it.
DEFAULT_MASTER, DEFAULT_DRIVER_MEMORY = "local[*]", "2g"


class ProcessedDataError(ValueError):
    """The processed Parquet is missing, unreadable or not in the contract's schema."""


def processed_write(
    spark: SparkSession, csv_path: Path, out_path: Path, *, compression: str = "snappy"
) -> int:
    """Write the typed rows of `csv_path` to `out_path` (one Parquet file, replaced atomically)."""
    frame = typed_columns(
        spark.read.option("header", "true").option("inferSchema", "false").csv(str(csv_path))
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".preprocess-") as work:
        folder = Path(work) / "out"
        # One partition, in the file's order: one part file, the same bytes on every run.
        frame.coalesce(1).write.option("compression", compression).parquet(str(folder))
        parts = sorted(folder.glob("part-*.parquet"))
        if len(parts) != 1:
            raise ProcessedDataError(f"expected one Parquet part file, Spark wrote {len(parts)}")
        staged = Path(work) / out_path.name
        rows = _rewrite_deterministically(parts[0], staged, compression)
        os.replace(staged, out_path)
    return rows


def _rewrite_deterministically(source: Path, target: Path, compression: str) -> int:
    """Copy Spark's part file through pyarrow's writer, a row group at a time.

    Spark's Parquet footer lists each column's encodings in a JVM hash order that changes from
    one JVM to the next, so two Spark runs give the same rows in different bytes; pyarrow writes
    the same bytes for the same rows, which keeps DVC's hash (and the lineage) stable.
    """
    part = pq.ParquetFile(source)
    codec = "NONE" if compression == "none" else compression
    with pq.ParquetWriter(target, part.schema_arrow.remove_metadata(), compression=codec) as out:
        for batch in part.iter_batches(batch_size=ROW_GROUP_ROWS):
            out.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
    return int(part.metadata.num_rows)


def load_processed(spark: SparkSession, parquet_path: Path) -> DataFrame:
    """The processed rows with a double `label` column; a wrong schema is refused by column."""
    if not parquet_path.is_file():
        raise ProcessedDataError(f"{parquet_path} does not exist (run `dvc repro preprocess`)")
    frame = spark.read.parquet(str(parquet_path))
    found = {field.name: field.dataType.simpleString() for field in frame.schema.fields}
    for name, kind in TYPES.items():
        if found.get(name) != kind:
            raise ProcessedDataError(
                f"{parquet_path}: column {name} is {found.get(name, 'missing')}, expected {kind}"
            )
    return frame.select(*TYPES).withColumn(LABEL, F.col("Survived").cast("double"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DVC stage: the CSV as one typed Parquet file")
    parser.add_argument("--input", type=Path, default=CSV)
    parser.add_argument("--output", type=Path, default=PARQUET)
    parser.add_argument("--params", type=Path, default=PARAMS)
    args = parser.parse_args(argv)
    try:
        compression = preprocess_compression(args.params)
        if not args.input.is_file():
            raise ProcessedDataError(f"{args.input} does not exist (run `manage.py ingest_data`)")
        print("preprocess: starting Spark…", flush=True)
        spark = spark_session(
            master=os.environ.get("SPARK_MASTER", DEFAULT_MASTER),
            driver_memory=os.environ.get("SPARK_DRIVER_MEMORY", DEFAULT_DRIVER_MEMORY),
            work_dir=Path(os.environ.get("TITANIC_VAR_DIR", "var")) / "spark",
        )
        rows = processed_write(spark, args.input, args.output, compression=compression)
    except (ProcessedDataError, ParamsError) as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 1
    print(f"preprocess: {args.input} -> {args.output}: {rows} rows, md5 {file_md5(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
