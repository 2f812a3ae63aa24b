"""The frozen holdout in Spark: remove its rows from training data, or compute a new one."""

from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

from apps.training.holdout import COLUMNS, canonical_row
from apps.training.spark.pipeline import TYPES, evaluation_split
from apps.training.spark.preprocess import load_processed, processed_write
from apps.training.spark.profile import bounded_rows, collect_bounded
from apps.training.spark.session import spark_session

_SPARK_TYPES = {"int": IntegerType(), "double": DoubleType(), "string": StringType()}
SCHEMA = StructType([StructField(name, _SPARK_TYPES[TYPES[name]], True) for name in COLUMNS])


def holdout_exclude(spark: SparkSession, frame: DataFrame, rows: list[dict[str, Any]]) -> DataFrame:
    """`frame` without any row whose features and label equal a holdout row (nulls match)."""
    if not rows:
        return frame
    holdout = spark.createDataFrame(
        [tuple(canonical_row(row)[name] for name in COLUMNS) for row in rows], SCHEMA
    ).distinct()
    # A broadcast anti-join: the holdout is small, the training data may not be.
    condition = [frame[name].eqNullSafe(F.col(f"h.{name}")) for name in COLUMNS]
    return frame.join(F.broadcast(holdout.alias("h")), on=condition, how="left_anti")


def evaluation_rows(
    *,
    csv_path: Path,
    parquet_path: Path,
    compression: str,
    master: str,
    driver_memory: str,
    work_dir: Path,
    weights: tuple[float, float],
    seed: int,
    max_rows: int,
) -> list[dict[str, Any]]:
    """The fixed evaluation split of a data file as plain rows (features + Survived): the rows a
    training job of that file holds, so at most `max_rows` of them (a fixed sample above).

    Split from the typed Parquet, as a training job splits it (written from the CSV if absent).
    """
    spark = spark_session(master=master, driver_memory=driver_memory, work_dir=work_dir)
    if not parquet_path.is_file():
        processed_write(spark, csv_path, parquet_path, compression=compression)
    frame = load_processed(spark, parquet_path)
    _, evaluation = evaluation_split(frame, weights=weights, seed=seed)
    held = bounded_rows(evaluation.cache(), limit=max_rows, seed=seed).select(*COLUMNS)
    rows = collect_bounded(held, purpose="holdout", limit=max_rows)
    return [canonical_row(row.asDict()) for row in rows]
