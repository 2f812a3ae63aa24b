"""The feature profile of a training set, computed by Spark aggregations (no rows collected).

Same schema and the same numbers as `apps.core.bins.build_baseline` on the collected rows: exact
``inverted_cdf`` deciles (sort-based), one bin per level, OTHER and MISSING. The driver only ever
receives aggregates: a handful of decile values, the level counts and the bin counts. Every
driver-side collect of the job goes through `collect_bounded`, which refuses more than a bound.
"""

import math
from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from apps.core import bins
from apps.core.features import DRIFT_NUMERIC_FEATURES, FEATURES

# Level and bin counts are bounded by the contract's domains; 10,000 is far above any of them.
MAX_AGGREGATE_ROWS = 10_000
# Largest collect of the last job, by purpose; tests and the benchmark read it.
COLLECTED: dict[str, int] = {}


class CollectTooLarge(RuntimeError):
    """A driver-side collect would exceed its bound: the data must stay in Spark."""


def collect_bounded(frame: DataFrame, *, purpose: str, limit: int) -> list[Row]:
    """Collect at most `limit` rows to the driver, or raise; records the size under `purpose`."""
    rows = frame.limit(limit + 1).collect()
    if len(rows) > limit:
        raise CollectTooLarge(f"{purpose}: more than {limit} rows would reach the driver")
    COLLECTED[purpose] = max(COLLECTED.get(purpose, 0), len(rows))
    return rows


def bounded_rows(frame: DataFrame, *, limit: int, seed: int) -> DataFrame:
    """`frame` while it has at most `limit` rows, else a fixed uniform sample of at most `limit`."""
    total = frame.count()
    if total <= limit:
        return frame
    # A seeded Bernoulli sample a little under the bound, then capped: uniform and repeatable.
    return frame.sample(False, 0.95 * limit / total, seed=seed).limit(limit).cache()


def inverted_cdf_rank(n: int, q: float) -> int:
    """0-based sorted position numpy's ``inverted_cdf`` picks for quantile `q` of `n` values."""
    # numpy: virtual index n*q - 1, rounded up unless it is integral (same float arithmetic).
    virtual = n * q - 1
    rank = math.floor(virtual) + (1 if virtual % 1 > 0 else 0)
    return min(max(rank, 0), n - 1)


def _present(name: str) -> Column:
    column = F.col(name)
    return column.isNotNull() & ~F.isnan(column.cast("double"))


def _deciles(frame: DataFrame, name: str, quantile_bins: int) -> list[float]:
    """Distinct exact ``inverted_cdf`` cut points of one numeric column."""
    values = frame.where(_present(name)).select(F.col(name).cast("double").alias("x"))
    # Count per distinct value, then running counts in value order: exact, and the window's
    # single partition holds distinct values only (it spills to disk in the JVM, never Python).
    counted = values.groupBy("x").agg(F.count(F.lit(1)).alias("n"))
    running = counted.withColumn(
        "upto",
        F.sum("n").over(Window.orderBy("x").rowsBetween(Window.unboundedPreceding, 0)),
    )
    total_row = collect_bounded(
        values.agg(F.count(F.lit(1)).alias("n")), purpose="profile", limit=1
    )
    total = int(total_row[0]["n"])
    if total == 0:
        return []
    ranks = [inverted_cdf_rank(total, k / quantile_bins) for k in range(1, quantile_bins)]
    # The value at 0-based rank r is the smallest value whose running count exceeds r.
    picks = [
        F.min(F.when(F.col("upto") > rank, F.col("x"))).alias(f"r{i}")
        for i, rank in enumerate(ranks)
    ]
    row = collect_bounded(running.agg(*picks), purpose="profile", limit=1)[0]
    return sorted({float(row[f"r{i}"]) for i in range(len(ranks))})


def _level_text(name: str) -> Column:
    # Integer columns print without a decimal point, as `bins._level_text` does for integral floats.
    return F.col(name).cast("string")


def _levels(frame: DataFrame, name: str) -> list[str]:
    present = frame.where(F.col(name).isNotNull()).select(_level_text(name).alias("level"))
    rows = collect_bounded(present.distinct(), purpose="profile", limit=MAX_AGGREGATE_ROWS)
    return sorted(str(row["level"]) for row in rows)


def _bin_expression(name: str, feature: bins.FeatureBaseline) -> Column:
    """The bin index of `name` under the bin rule of `apps.core.bins` (edges inclusive right)."""
    column = F.col(name)
    if feature["kind"] == "numeric":
        edges = feature["edges"]
        expression = F.when(~_present(name), F.lit(len(edges) + 1))
        for index, edge in enumerate(edges):
            expression = expression.when(column.cast("double") <= F.lit(edge), F.lit(index))
        return expression.otherwise(F.lit(len(edges)))
    levels = feature["levels"]
    expression = F.when(column.isNull(), F.lit(len(levels) + 1))
    for index, level in enumerate(levels):
        expression = expression.when(_level_text(name) == F.lit(level), F.lit(index))
    return expression.otherwise(F.lit(len(levels)))


def feature_profile(
    frame: DataFrame,
    *,
    features: Sequence[str] = FEATURES,
    numeric: Sequence[str] = DRIFT_NUMERIC_FEATURES,
    quantile_bins: int = 10,
) -> bins.Baseline:
    """The `bins.build_baseline` profile of `frame`'s `features`, from Spark aggregations."""
    shapes: dict[str, bins.FeatureBaseline] = {}
    for name in features:
        if name in numeric:
            edges = _deciles(frame, name, quantile_bins)
            shapes[name] = bins.FeatureBaseline(
                kind="numeric",
                edges=edges,
                labels=bins.numeric_labels(edges),
                counts=[],
                proportions=[],
                n_rows=0,
            )
        else:
            levels = _levels(frame, name)
            shapes[name] = bins.FeatureBaseline(
                kind="categorical",
                levels=levels,
                labels=[*levels, bins.OTHER, bins.MISSING],
                counts=[],
                proportions=[],
                n_rows=0,
            )
    # One pass over the data for every feature's bin counts.
    sums: list[Column] = [F.count(F.lit(1)).alias("n_rows")]
    for position, (name, feature) in enumerate(shapes.items()):
        index = _bin_expression(name, feature)
        sums += [
            F.sum(F.when(index == F.lit(b), 1).otherwise(0)).alias(f"f{position}_b{b}")
            for b in range(bins.bin_count(feature))
        ]
    row: Any = collect_bounded(frame.agg(*sums), purpose="profile", limit=1)[0]
    n_rows = int(row["n_rows"])
    if n_rows == 0:
        raise ValueError("cannot profile an empty training set")
    for position, feature in enumerate(shapes.values()):
        counts = [int(row[f"f{position}_b{b}"] or 0) for b in range(bins.bin_count(feature))]
        feature["counts"] = counts
        feature["proportions"] = [float(count) / n_rows for count in counts]
        feature["n_rows"] = n_rows
    return bins.Baseline(schema=bins.BASELINE_SCHEMA, n_rows=n_rows, features=shapes)
