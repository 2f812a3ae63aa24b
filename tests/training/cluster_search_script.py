"""Run the quick-profile search of some families on one Spark master; print the results as JSON.

A process holds one SparkContext, so tests/training/test_spark_cluster.py runs this module in a
fresh interpreter per master:

    python -m tests.training.cluster_search_script MASTER DATA_PATH WORK_DIR [FAMILIES]

DATA_PATH is a contract-checked CSV or the preprocess stage's typed Parquet (read as a training
job reads it); FAMILIES is a comma-separated list (default: every family).

The last stdout line starting with RESULT_PREFIX carries the JSON document.
"""

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "SEARCH-RESULT "


def search_families(
    master: str, data_path: Path, work_dir: Path, families: tuple[str, ...]
) -> dict[str, Any]:
    """Best params, validation AUCs and the refitted winner's evaluation AUC per family."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    from apps.training.params import load_params
    from apps.training.spark.pipeline import LABEL, evaluation_split, load_typed
    from apps.training.spark.preprocess import load_processed
    from apps.training.spark.search import search_family
    from apps.training.spark.session import spark_session

    params = load_params(ROOT / "params.yaml", "quick")
    spark = spark_session(master=master, driver_memory="1g", work_dir=work_dir)
    try:
        if data_path.suffix == ".parquet":
            frame = load_processed(spark, data_path)
        else:
            frame = load_typed(spark, data_path)
        train, evaluation = evaluation_split(frame, weights=params.eval_split, seed=params.seed)
        train, evaluation = train.cache(), evaluation.cache()
        evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")
        results: dict[str, Any] = {}
        for family in families:
            search = search_family(
                train,
                family,
                params.points(family),
                ratio=params.tvs_train_ratio,
                seed=params.seed,
            )
            results[family] = {
                "best_params": search.best_params,
                "validation_auc": search.validation_auc,
                "eval_auc": evaluator.evaluate(search.model.transform(evaluation)),
            }
        context = spark.sparkContext
        # Executor ids exclude the driver: none in local mode, the worker's in a cluster.
        ids = context._jsc.sc().getExecutorIds().mkString(",")  # type: ignore[union-attr]
        return {
            "master": context.master,
            "executors": [name for name in ids.split(",") if name],
            "executor_pythonpath": spark.conf.get("spark.executorEnv.PYTHONPATH", ""),
            "rows": {"train": train.count(), "evaluation": evaluation.count()},
            "families": results,
        }
    finally:
        spark.stop()


def main(argv: list[str]) -> int:
    from apps.training.params import FAMILIES

    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    master, data_path, work_dir = argv[:3]
    families = tuple(argv[3].split(",")) if len(argv) == 4 else tuple(FAMILIES)
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        known = ", ".join(FAMILIES)
        print(f"unknown families: {', '.join(unknown)} (known: {known})", file=sys.stderr)
        return 2
    result = search_families(master, Path(data_path), Path(work_dir), families)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
