"""Benchmark: the full grid per family, naive TrainValidationSplit (a) vs `search_family` (b)."""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import pyspark  # noqa: E402
from pyspark.ml import Pipeline, PipelineModel  # noqa: E402
from pyspark.ml.evaluation import BinaryClassificationEvaluator  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from apps.training.params import TrainingParams, load_params, parse_families  # noqa: E402
from apps.training.spark.pipeline import (  # noqa: E402
    LABEL,
    estimator,
    evaluation_split,
    full_pipeline,
    load_typed,
    preprocessing_stages,
)
from apps.training.spark.search import (  # noqa: E402
    FamilySearch,
    # Private on purpose: the breakdown must repeat search_family's own split, groups and prefixes.
    _fit_groups,
    _gbt_prefix,
    _tvs_split,
    naive_search,
    search_family,
)
from apps.training.spark.session import spark_session  # noqa: E402

CSV_PATH = ROOT / "data" / "titanic.csv"
RESULTS = ROOT / "bench" / "results" / "train_grid.json"
# Spark's default, for (a) only; (b) keeps the project's session setting (2).
DEFAULT_SHUFFLE_PARTITIONS = "200"
AUC_TOLERANCE = 1e-9


@dataclass
class Phase:
    name: str
    seconds: float
    jobs: int
    cpu_seconds: float
    load_1min: float


class PhaseTimer:
    """Times named phases, counts the Spark jobs each starts (via job groups) and their CPU."""

    def __init__(self, spark: SparkSession) -> None:
        self._context = spark.sparkContext
        self._newest_job = -1
        self.phases: list[Phase] = []
        # CPU time of the driver JVM plus this process: it moves less than wall time when other
        # work shares the machine's two cores, so it is reported next to it.
        me = psutil.Process()
        self._processes = [me, *(c for c in me.children(recursive=True) if c.name() == "java")]
        if len(self._processes) != 2:
            raise RuntimeError("expected exactly one Spark driver JVM under this process")

    def _cpu(self) -> float:
        return sum(p.cpu_times().user + p.cpu_times().system for p in self._processes)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Run the body under job group `name`; record its wall time and job count."""
        self._context.setJobGroup(name, name)
        started, cpu_started = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            seconds, cpu = time.perf_counter() - started, self._cpu() - cpu_started
            self._context.setJobGroup("bench-idle", "between phases")
            newest = self._newest_in(name)
            # Job ids are sequential and phases never overlap, so the id range is the count;
            # len(ids) would undercount once Spark drops old jobs (spark.ui.retainedJobs=1000).
            jobs = max(0, newest - self._newest_job)
            self._newest_job = max(self._newest_job, newest)
            self.phases.append(Phase(name, seconds, jobs, cpu, os.getloadavg()[0]))

    def last(self) -> Phase:
        return self.phases[-1]

    def _newest_in(self, group: str) -> int:
        # The status store is fed by the asynchronous listener bus: read until it settles.
        tracker = self._context.statusTracker()
        newest, previous = -1, -2
        for _ in range(20):
            newest = max(tracker.getJobIdsForGroup(group), default=-1)
            if newest == previous:
                break
            previous = newest
            time.sleep(0.05)
        return newest


def _evaluate(model: PipelineModel, frame: DataFrame) -> float:
    evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")
    return float(evaluator.evaluate(model.transform(frame)))


def _warm_up(spark: SparkSession, train: DataFrame, families: list[str], timer: PhaseTimer) -> None:
    # A tiny job is not enough: whichever search ran first was still paying for JIT compilation
    # (LR 2.9x with naive first vs 1.3x with it second), so both searches run the quick profile.
    quick = load_params(ROOT / "params.yaml", "quick")
    with timer.phase("warmup"):
        spark.range(1000).selectExpr("sum(id)").collect()
        for family in families:
            points = quick.points(family)
            for search in (naive_search, search_family):
                search(train, family, points, ratio=quick.tvs_train_ratio, seed=quick.seed)


def _run_b(train: DataFrame, family: str, params: TrainingParams, parallelism: int) -> FamilySearch:
    return search_family(
        train,
        family,
        params.points(family),
        ratio=params.tvs_train_ratio,
        seed=params.seed,
        parallelism=parallelism,
    )


def _run_a(
    spark: SparkSession, train: DataFrame, family: str, params: TrainingParams
) -> FamilySearch:
    project_value = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", DEFAULT_SHUFFLE_PARTITIONS)
    try:
        return naive_search(
            train, family, params.points(family), ratio=params.tvs_train_ratio, seed=params.seed
        )
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", project_value)


def _breakdown(
    train: DataFrame, family: str, params: TrainingParams, best: dict[str, Any], timer: PhaseTimer
) -> dict[str, Any]:
    """(b)'s steps run one at a time, so each gets its own wall time and job count."""
    points = params.points(family)
    tag = f"breakdown:{family}"
    with timer.phase(f"{tag}:prep"):
        tvs_train, tvs_valid = _tvs_split(train, params.tvs_train_ratio, params.seed)
        prep = Pipeline(stages=preprocessing_stages(family)).fit(tvs_train)
        train_vec = prep.transform(tvs_train).select("features", LABEL).cache()
        valid_vec = prep.transform(tvs_valid).select("features", LABEL).cache()
        train_vec.count(), valid_vec.count()
    prep_phase = timer.last()
    per_point: list[dict[str, Any]] = [{} for _ in points]
    evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")
    try:
        # The same fit groups as search_family: GBT points differing only in maxIter share a fit.
        for group in _fit_groups(family, points):
            head = group[0]
            with timer.phase(f"{tag}:{head}:fit"):
                model = estimator(family, points[head]).fit(train_vec)
            fit = timer.last()
            for index in group:
                with timer.phase(f"{tag}:{index}:auc"):
                    rounds = points[index].get("maxIter")
                    candidate = model if index == head else _gbt_prefix(model, rounds)
                    evaluator.evaluate(candidate.transform(valid_vec))
                auc = timer.last()
                per_point[index] = {
                    "params": points[index],
                    "fitted_with": head,
                    "fit_seconds": fit.seconds if index == head else 0.0,
                    "fit_jobs": fit.jobs if index == head else 0,
                    "auc_seconds": auc.seconds,
                    "auc_jobs": auc.jobs,
                }
    finally:
        train_vec.unpersist()
        valid_vec.unpersist()
    with timer.phase(f"{tag}:refit"):
        full_pipeline(family, best).fit(train)
    refit = timer.last()
    return {
        "prep_seconds": prep_phase.seconds,
        "prep_jobs": prep_phase.jobs,
        "fit_seconds": sum(p["fit_seconds"] for p in per_point),
        "fit_jobs": sum(p["fit_jobs"] for p in per_point),
        "auc_seconds": sum(p["auc_seconds"] for p in per_point),
        "auc_jobs": sum(p["auc_jobs"] for p in per_point),
        "refit_seconds": refit.seconds,
        "refit_jobs": refit.jobs,
        "points": per_point,
    }


def _compare(
    family: str,
    naive: FamilySearch,
    fast: FamilySearch,
    evaluation: DataFrame,
    timer: PhaseTimer,
) -> dict[str, Any]:
    with timer.phase(f"eval:{family}"):
        eval_a, eval_b = _evaluate(naive.model, evaluation), _evaluate(fast.model, evaluation)
    diffs = [abs(x - y) for x, y in zip(naive.validation_auc, fast.validation_auc, strict=True)]
    return {
        "points": naive.points,
        "validation_auc_a": naive.validation_auc,
        "validation_auc_b": fast.validation_auc,
        "max_validation_auc_diff": max(diffs),
        "best_params_a": naive.best_params,
        "best_params_b": fast.best_params,
        "best_validation_auc_a": naive.validation_auc[naive.best_index],
        "best_validation_auc_b": fast.validation_auc[fast.best_index],
        "eval_auc_a": eval_a,
        "eval_auc_b": eval_b,
        "equal": naive.best_params == fast.best_params
        and max(diffs) <= AUC_TOLERANCE
        and abs(eval_a - eval_b) <= AUC_TOLERANCE,
        "b_search_seconds": fast.search_seconds,
        "b_refit_seconds": fast.refit_seconds,
    }


def _family(
    spark: SparkSession,
    train: DataFrame,
    evaluation: DataFrame,
    family: str,
    args: argparse.Namespace,
    params: TrainingParams,
    timer: PhaseTimer,
) -> dict[str, Any]:
    results: dict[str, FamilySearch] = {}
    phases: dict[str, list[Phase]] = {"a": [], "b": []}
    for repeat in range(args.repeat):
        # Repeats alternate the order, so neither side always runs on the warmer JVM.
        order = args.order if repeat % 2 == 0 else args.order[::-1]
        for side in order:
            with timer.phase(f"{side}:{family}:{repeat}"):
                if side == "a":
                    results[side] = _run_a(spark, train, family, params)
                else:
                    results[side] = _run_b(train, family, params, args.parallelism)
            done = timer.last()
            phases[side].append(done)
            print(
                f"  {family} ({side}): {done.seconds:.1f} s, {done.jobs} jobs, "
                f"{done.cpu_seconds:.1f} CPU s, load {done.load_1min:.1f}",
                flush=True,
            )
    # The fastest repeat is the one least disturbed by neighbours on a shared machine.
    phase_a = min(phases["a"], key=lambda phase: phase.seconds)
    phase_b = min(phases["b"], key=lambda phase: phase.seconds)
    row = {
        "family": family,
        "grid_points": len(params.points(family)),
        "seconds_a": phase_a.seconds,
        "seconds_b": phase_b.seconds,
        "ratio": phase_a.seconds / phase_b.seconds,
        "jobs_a": phase_a.jobs,
        "jobs_b": phase_b.jobs,
        "cpu_seconds_a": phase_a.cpu_seconds,
        "cpu_seconds_b": phase_b.cpu_seconds,
        "cpu_ratio": phase_a.cpu_seconds / phase_b.cpu_seconds,
        "load_1min_a": phase_a.load_1min,
        "load_1min_b": phase_b.load_1min,
        "all_seconds_a": [phase.seconds for phase in phases["a"]],
        "all_seconds_b": [phase.seconds for phase in phases["b"]],
        **_compare(family, results["a"], results["b"], evaluation, timer),
    }
    if args.breakdown:
        row["breakdown_b"] = _breakdown(train, family, params, results["b"].best_params, timer)
    return row


def _short(params: dict[str, Any]) -> str:
    return ",".join(f"{name}={value:g}" for name, value in params.items())


def _print_tables(rows: list[dict[str, Any]], order: str) -> None:
    print(
        f"\nfull-grid search (order per family: {order[0]} then {order[1]}, alternating when "
        "repeated; fastest repeat shown); CPU = JVM + Python"
    )
    print(
        f"{'family':<7}{'pts':>4}{'a (s)':>8}{'b (s)':>8}{'a/b':>6}{'jobs a':>8}{'jobs b':>8}"
        f"{'cpu a':>8}{'cpu b':>8}{'a/b':>6}{'load a/b':>10}"
    )
    total: dict[str, Any] = {"family": "total", "load_1min_a": "", "load_1min_b": ""}
    for key in ("grid_points", "seconds_a", "seconds_b", "jobs_a", "jobs_b"):
        total[key] = sum(r[key] for r in rows)
    for key in ("cpu_seconds_a", "cpu_seconds_b"):
        total[key] = sum(r[key] for r in rows)
    total["ratio"] = total["seconds_a"] / total["seconds_b"]
    total["cpu_ratio"] = total["cpu_seconds_a"] / total["cpu_seconds_b"]
    for r in [*rows, total]:
        load = f"{r['load_1min_a']:.1f}/{r['load_1min_b']:.1f}" if r["load_1min_a"] != "" else ""
        print(
            f"{r['family']:<7}{r['grid_points']:>4}{r['seconds_a']:>8.1f}{r['seconds_b']:>8.1f}"
            f"{r['ratio']:>6.2f}{r['jobs_a']:>8}{r['jobs_b']:>8}{r['cpu_seconds_a']:>8.1f}"
            f"{r['cpu_seconds_b']:>8.1f}{r['cpu_ratio']:>6.2f}{load:>10}"
        )
    print("\nbest point and AUCs (validation = TVS hold-out, eval = the 145-row evaluation split)")
    for r in rows:
        for side in ("a", "b"):
            print(
                f"{r['family'] if side == 'a' else '':<5}{side}: "
                f"{_short(r[f'best_params_{side}']):<38} val {r[f'best_validation_auc_{side}']:.6f}"
                f"  eval {r[f'eval_auc_{side}']:.6f}"
            )
        print(
            f"{'':<5}equal: {r['equal']} (max |val AUC a-b| over the grid "
            f"{r['max_validation_auc_diff']:.1e})"
        )


def _print_breakdown(rows: list[dict[str, Any]]) -> None:
    broken = [r for r in rows if "breakdown_b" in r]
    if not broken:
        return
    print("\nwhere (b)'s time goes, steps run serially: seconds / Spark jobs")
    print(f"{'family':<7}{'prep':>13}{'point fits':>14}{'point AUCs':>14}{'refit':>13}")
    for r in broken:
        b = r["breakdown_b"]
        cells = [
            f"{b[f'{k}_seconds']:.1f}/{b[f'{k}_jobs']}" for k in ("prep", "fit", "auc", "refit")
        ]
        print(f"{r['family']:<7}{cells[0]:>13}{cells[1]:>14}{cells[2]:>14}{cells[3]:>13}")
        for index, point in enumerate(b["points"]):
            fit = (
                f"fit {point['fit_seconds']:6.2f} s {point['fit_jobs']:>4} jobs"
                if point["fitted_with"] == index
                else f"prefix of point {point['fitted_with']:<8}"
            )
            print(
                f"{'':<4}{index:>2} {_short(point['params']):<37}{fit}   auc "
                f"{point['auc_seconds']:.2f} s {point['auc_jobs']} jobs"
            )


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", default=None, help="comma-separated, default all")
    parser.add_argument("--profile", default="full", help="params.yaml profile (default full)")
    parser.add_argument(
        "--order", choices=("ba", "ab"), default="ba", help="which search runs first per family"
    )
    parser.add_argument("--parallelism", type=int, default=2, help="(b)'s thread pool size")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side, order alternating; the fastest counts"
    )
    parser.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip the serial step-by-step rerun of (b)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeat < 1 or args.parallelism < 1:
        parser.error("--repeat and --parallelism must be at least 1")
    return args


def main() -> None:
    """Run the benchmark, print the tables and write the JSON results."""
    args = _parse_args()
    families = parse_families(args.families)
    params = load_params(ROOT / "params.yaml", args.profile)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-train-grid-") as scratch:
        spark = spark_session(master="local[*]", driver_memory="2g", work_dir=Path(scratch))
        try:
            timer = PhaseTimer(spark)
            with timer.phase("data"):
                train, evaluation = evaluation_split(
                    load_typed(spark, CSV_PATH), weights=params.eval_split, seed=params.seed
                )
                # Cached as the training job caches them, for both searches alike.
                train, evaluation = train.cache(), evaluation.cache()
                rows_train, rows_eval = train.count(), evaluation.count()
            shuffle_b = spark.conf.get("spark.sql.shuffle.partitions")
            _warm_up(spark, train, families, timer)
            print(f"train {rows_train} rows, evaluation {rows_eval} rows; JVM warmed up")
            rows = [
                _family(spark, train, evaluation, family, args, params, timer)
                for family in families
            ]
        finally:
            spark.stop()
    _print_tables(rows, args.order)
    _print_breakdown(rows)
    result = {
        "benchmark": "train_grid",
        "profile": args.profile,
        "order": args.order,
        "parallelism_b": args.parallelism,
        "repeat": args.repeat,
        "shuffle_partitions": {"a": DEFAULT_SHUFFLE_PARTITIONS, "b": shuffle_b},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "pyspark": pyspark.__version__,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "rows": {"train": rows_train, "evaluation": rows_eval},
        "families": rows,
        "totals": {
            "seconds_a": sum(r["seconds_a"] for r in rows),
            "seconds_b": sum(r["seconds_b"] for r in rows),
            "jobs_a": sum(r["jobs_a"] for r in rows),
            "jobs_b": sum(r["jobs_b"] for r in rows),
            "cpu_seconds_a": sum(r["cpu_seconds_a"] for r in rows),
            "cpu_seconds_b": sum(r["cpu_seconds_b"] for r in rows),
            "all_equal": all(r["equal"] for r in rows),
        },
        "phases": [asdict(phase) for phase in timer.phases],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if not result["totals"]["all_equal"]:
        sys.exit("the two searches disagree; see the table above")


if __name__ == "__main__":
    main()
