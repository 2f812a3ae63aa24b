"""Benchmark: scoring latency of the MLflow Spark pyfunc (a) vs the portable numpy scorer (b)."""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.spark  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyspark  # noqa: E402
from pyspark.ml import PipelineModel  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from apps.core.features import FEATURES  # noqa: E402
from apps.portable.exporter import write_scorer_file  # noqa: E402
from apps.portable.scorer import PortableScorer  # noqa: E402
from apps.training.params import parse_families  # noqa: E402
from apps.training.spark.pipeline import evaluation_split, full_pipeline, load_typed  # noqa: E402
from apps.training.spark.session import spark_session  # noqa: E402

CSV_PATH = ROOT / "data" / "titanic.csv"
RESULTS = ROOT / "bench" / "results" / "scorer_latency.json"
# The largest (slowest to score) settings of the full grid, one model per family.
LARGEST = {
    "lr": {"regParam": 0.01},
    "rf": {"numTrees": 200, "maxDepth": 12, "maxBins": 64},
    "gbt": {"maxIter": 100, "maxDepth": 5},
}
TARGET_RATIO = 1000.0


def _median_ms(call: Callable[[], Any], *, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1e6


def _request_rows() -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """All 891 rows as the pyfunc's pandas frame and as the API's dicts (None when empty)."""
    frame = pd.read_csv(CSV_PATH, usecols=list(FEATURES))[list(FEATURES)]
    # Spark must see empty strings as nulls (not float NaN) to infer a string column.
    for column in ("Sex", "Embarked"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
    return frame, records


def _spark_probabilities(model: PipelineModel, frame: DataFrame) -> np.ndarray:
    rows = model.transform(frame).select("probability").collect()
    return np.array([float(row["probability"][1]) for row in rows])


def _family(
    family: str,
    train: DataFrame,
    everything: DataFrame,
    scratch: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    started = time.perf_counter()
    model = full_pipeline(family, LARGEST[family]).fit(train)
    fit_seconds = time.perf_counter() - started
    folder = scratch / family
    # Explicit requirements skip MLflow's inference, which starts a second JVM (~16 s).
    mlflow.spark.save_model(
        model,
        str(folder / "model"),
        pip_requirements=[f"pyspark=={pyspark.__version__}"],
        dfs_tmpdir=str(scratch / "dfs"),
    )
    pyfunc = mlflow.pyfunc.load_model(str(folder / "model"))
    sha256 = write_scorer_file(folder / "model" / "sparkml", folder / "scorer.json")
    scorer = PortableScorer.load(folder / "scorer.json", sha256)

    frame, records = _request_rows()
    single = records[0]
    timings = {
        "pyfunc_single_ms": _median_ms(
            lambda: pyfunc.predict(pd.DataFrame([single])), repeats=args.pyfunc_calls, warmup=5
        ),
        "scorer_single_ms": _median_ms(
            lambda: scorer.predict_proba([single]), repeats=args.scorer_calls, warmup=50
        ),
        "pyfunc_batch_ms": _median_ms(
            lambda: pyfunc.predict(frame), repeats=args.batch_calls, warmup=1
        ),
        "scorer_batch_ms": _median_ms(
            lambda: scorer.predict_proba(records), repeats=args.batch_calls * 5, warmup=2
        ),
    }
    # Sanity: the scorer must say what Spark says, or the speed means nothing.
    ours = scorer.predict_proba(records)
    labels = np.asarray(pyfunc.predict(frame), dtype=float).ravel()
    return {
        "family": family,
        "params": LARGEST[family],
        "fit_seconds": fit_seconds,
        "scorer_file_bytes": (folder / "scorer.json").stat().st_size,
        **timings,
        "single_ratio": timings["pyfunc_single_ms"] / timings["scorer_single_ms"],
        "batch_ratio": timings["pyfunc_batch_ms"] / timings["scorer_batch_ms"],
        "max_abs_prob_diff_vs_spark": float(
            np.max(np.abs(ours - _spark_probabilities(model, everything)))
        ),
        "label_mismatches_vs_pyfunc": int(np.sum((ours > 0.5).astype(float) != labels)),
        "rows": len(records),
    }


def _print_table(rows: list[dict[str, Any]], batch: int) -> None:
    print("\nmedian latency per call in ms: (a) mlflow.pyfunc Spark flavour, (b) portable scorer")
    print(
        f"{'family':<7}{'a 1 row':>10}{'b 1 row':>10}{'a/b':>9}"
        f"{f'a {batch}':>10}{f'b {batch}':>10}{'a/b':>8}{'max|dp|':>10}{'labels!=':>10}"
    )
    for r in rows:
        print(
            f"{r['family']:<7}{r['pyfunc_single_ms']:>10.2f}{r['scorer_single_ms']:>10.3f}"
            f"{r['single_ratio']:>9.0f}{r['pyfunc_batch_ms']:>10.1f}{r['scorer_batch_ms']:>10.2f}"
            f"{r['batch_ratio']:>8.1f}{r['max_abs_prob_diff_vs_spark']:>10.1e}"
            f"{r['label_mismatches_vs_pyfunc']:>10}"
        )
    print("max|dp|: scorer vs Spark probabilities on all rows; labels!=: vs the pyfunc's labels")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", default=None, help="comma-separated, default all")
    parser.add_argument("--pyfunc-calls", type=int, default=50, help="single-row pyfunc calls")
    parser.add_argument("--scorer-calls", type=int, default=2000, help="single-row scorer calls")
    parser.add_argument("--batch-calls", type=int, default=10, help="all-row pyfunc calls")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def main() -> None:
    """Fit, save and load one model per family, time both scorers, print and write results."""
    args = _parse_args()
    families = parse_families(args.families)
    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as scratch_dir:
        scratch = Path(scratch_dir)
        spark: SparkSession = spark_session(
            master="local[*]", driver_memory="2g", work_dir=scratch / "spark"
        )
        try:
            everything = load_typed(spark, CSV_PATH).cache()
            train, _ = evaluation_split(everything)
            train = train.cache()
            rows = []
            for family in families:
                rows.append(_family(family, train, everything, scratch, args))
                print(f"  {family}: done ({rows[-1]['single_ratio']:.0f}x on one row)")
        finally:
            spark.stop()
    _print_table(rows, rows[0]["rows"])
    result = {
        "benchmark": "scorer_latency",
        "target_single_ratio": TARGET_RATIO,
        "calls": {
            "pyfunc_single": args.pyfunc_calls,
            "scorer_single": args.scorer_calls,
            "pyfunc_batch": args.batch_calls,
            "scorer_batch": args.batch_calls * 5,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyspark": pyspark.__version__,
            "mlflow": mlflow.__version__,
            "loadavg_after": os.getloadavg(),
        },
        "families": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    failures = [r["family"] for r in rows if r["max_abs_prob_diff_vs_spark"] > 1e-9]
    if failures:
        sys.exit(f"the portable scorer disagrees with Spark for {', '.join(failures)}")
    slow = [r["family"] for r in rows if r["single_ratio"] < TARGET_RATIO]
    if slow:
        print(f"below the {TARGET_RATIO:.0f}x single-row target: {', '.join(slow)}")


if __name__ == "__main__":
    main()
