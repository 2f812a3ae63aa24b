"""Run the quick-profile search of every family on one Spark master; print the results as JSON.

A process holds one SparkContext, so tests/training/test_spark_cluster.py runs this module in a
fresh interpreter per master:

    python -m tests.training.cluster_search_script MASTER CSV_PATH WORK_DIR

The last stdout line starting with RESULT_PREFIX carries the JSON document.
"""

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "SEARCH-RESULT "


def search_all_families(master: str, csv_path: Path, work_dir: Path) -> dict[str, Any]:
    """Best params, validation AUCs and the refitted winner's evaluation AUC per family."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    from apps.training.params import FAMILIES, load_params
    from apps.training.spark.pipeline import LABEL, evaluation_split, load_typed
    from apps.training.spark.search import search_family
    from apps.training.spark.session import spark_session

    params = load_params(ROOT / "params.yaml", "quick")
    spark = spark_session(master=master, driver_memory="1g", work_dir=work_dir)
    try:
        frame = load_typed(spark, csv_path)
        train, evaluation = evaluation_split(frame, weights=params.eval_split, seed=params.seed)
        train, evaluation = train.cache(), evaluation.cache()
        evaluator = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC")
        families: dict[str, Any] = {}
        for family in FAMILIES:
            search = search_family(
                train,
                family,
                params.points(family),
                ratio=params.tvs_train_ratio,
                seed=params.seed,
            )
            families[family] = {
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
            "families": families,
        }
    finally:
        spark.stop()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    master, csv_path, work_dir = argv
    result = search_all_families(master, Path(csv_path), Path(work_dir))
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
