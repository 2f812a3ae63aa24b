"""One training job: split, search every family, evaluate, log everything to MLflow."""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import mlflow
import mlflow.spark
import numpy as np
import pyspark
from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from apps.core.features import FEATURES
from apps.portable.exporter import write_scorer_file
from apps.training import metrics, tracking
from apps.training.dvc import file_md5
from apps.training.holdout import COLUMNS, row_key
from apps.training.params import TrainingParams
from apps.training.results import (
    Evaluation,
    FamilyResult,
    GridPoint,
    JobOutcome,
    Params,
    Preprocessing,
    ResourceUsageResult,
)
from apps.training.spark.holdout import holdout_exclude
from apps.training.spark.pipeline import (
    LABEL,
    evaluation_split,
    feature_names,
)
from apps.training.spark.preprocess import load_processed, processed_write
from apps.training.spark.profile import (
    COLLECTED,
    bounded_rows,
    collect_bounded,
    feature_profile,
)
from apps.training.spark.search import FamilySearch, search_family
from apps.training.spark.session import spark_in_use

# Data sets this small also return the content keys of every row trained on (an audit the tests
# and the holdout checks read); larger ones only their count, so the driver never holds them.
TRAINING_KEYS_MAX_ROWS = 10_000

PointCallback = Callable[[str, int, Params, float], None]
FamilyCallback = Callable[[str, FamilyResult], None]


@dataclass
class JobSpec:
    csv_path: Path
    # The data version's typed Parquet (the DVC pipeline's output); written from the CSV if absent.
    parquet_path: Path
    families: list[str]
    params: TrainingParams
    profile: str
    run_name: str
    tags: dict[str, str]
    master: str
    driver_memory: str
    work_dir: Path
    parallelism: int = 2
    idle_release_seconds: float = 0  # release the JVM this long after the job (0: keep it)
    # Frozen holdout rows this job must never train on (empty on the holdout's own data version).
    holdout_rows: list[dict[str, Any]] = field(default_factory=list)
    compression: str = "snappy"  # the preprocess stage's codec, when the job writes the Parquet
    # Evaluation rows that may reach the driver (curves, class metrics, the gate, the holdout).
    evaluation_max_rows: int = 50_000


def _versions(spark: SparkSession) -> dict[str, str]:
    jvm = spark.sparkContext._jvm
    return {
        "spark_version": spark.version,
        "pyspark_version": pyspark.__version__,
        "java_version": str(jvm.java.lang.System.getProperty("java.version")),
        "mlflow_version": mlflow.__version__,
    }


def _indexer_labels(model: PipelineModel) -> dict[str, list[str]]:
    for stage in model.stages:
        if type(stage).__name__ == "StringIndexerModel":
            sex, embarked = stage.labelsArray
            return {"Sex": list(sex), "Embarked": list(embarked)}
    raise ValueError("the pipeline has no StringIndexerModel")


def _preprocessing_stats(model: PipelineModel) -> Preprocessing:
    stats: Preprocessing = {"indexer_labels": _indexer_labels(model)}
    for stage in model.stages:
        name = type(stage).__name__
        if name == "ModeImputerModel":
            stats["Embarked_mode"] = stage.getOrDefault(stage.fillValue)
        elif name == "ImputerModel":
            row = stage.surrogateDF.first()
            stats["medians"] = {"Age": row["Age"], "Fare": row["Fare"]}
        elif name == "StandardScalerModel":
            stats["scaler_mean"] = stage.mean.toArray().tolist()
            stats["scaler_std"] = stage.std.toArray().tolist()
    return stats


def _feature_weights(family: str, model: PipelineModel) -> dict[str, float]:
    names = feature_names(_indexer_labels(model))
    classifier = model.stages[-1]
    if family == "lr":
        values = classifier.coefficients.toArray()
    else:
        values = classifier.featureImportances.toArray()
    return {name: float(value) for name, value in zip(names, values, strict=True)}


def _evaluate(
    family: str, model: PipelineModel, evaluation: DataFrame, gate_rows: DataFrame, limit: int
) -> Evaluation:
    # AUC over every evaluation row in Spark; the driver-side figures over the bounded rows.
    auc = BinaryClassificationEvaluator(labelCol=LABEL, metricName="areaUnderROC").evaluate(
        model.transform(evaluation)
    )
    scored = model.transform(gate_rows)
    rows = collect_bounded(
        scored.select(LABEL, F.col("probability")), purpose="evaluation", limit=limit
    )
    y = np.array([int(row[LABEL]) for row in rows])
    p = np.array([float(row["probability"][1]) for row in rows])
    found = metrics.class_metrics(y, p)
    return {
        "auc": float(auc),
        "accuracy": found["accuracy"],
        "per_class": found["per_class"],
        "confusion_matrix": found["confusion_matrix"],
        "roc": tracking.roc_curve(y, p),
        "pr": tracking.pr_curve(y, p),
        "feature_weights": _feature_weights(family, model),
        "scores": p.tolist(),
    }


def _training_row_keys(train: DataFrame, count: int) -> list[str]:
    """Content keys of the training rows while they are few enough to audit, else none."""
    if count > TRAINING_KEYS_MAX_ROWS:
        return []
    rows = collect_bounded(
        train.select(*COLUMNS), purpose="training keys", limit=TRAINING_KEYS_MAX_ROWS
    )
    return [row_key(row.asDict()) for row in rows]


def _log_family(
    search: FamilySearch, evaluation: Evaluation, usage: tracking.ResourceUsage, out: Path
) -> FamilyResult:
    family = search.family
    mlflow.log_params({"family": family, "grid_points": len(search.points)})
    mlflow.log_params({f"best_{k}": v for k, v in search.best_params.items()})
    grid: list[GridPoint] = [
        {"params": p, "validation_auc": a}
        for p, a in zip(search.points, search.validation_auc, strict=True)
    ]
    for step, auc in enumerate(search.validation_auc):
        mlflow.log_metric("validation_auc", auc, step=step)
    metrics = {
        "eval_auc": evaluation["auc"],
        "eval_accuracy": evaluation["accuracy"],
        "best_validation_auc": search.validation_auc[search.best_index],
        "search_seconds": search.search_seconds,
        "refit_seconds": search.refit_seconds,
        **tracking.usage_metrics(usage),
    }
    for label, values in evaluation["per_class"].items():
        for name in ("precision", "recall", "f1"):
            metrics[f"eval_{name}_{label}"] = values[name]
    mlflow.log_metrics(metrics)
    folder = out / family
    tracking.write_json(folder / "search_space.json", {"grid": search.points})
    tracking.write_json(folder / "grid_results.json", grid)
    matrix = evaluation["confusion_matrix"]
    (folder / "confusion_matrix.csv").write_text(
        "true\\pred,0,1\n" + "".join(f"{i},{r[0]},{r[1]}\n" for i, r in enumerate(matrix))
    )
    tracking.write_json(folder / "feature_weights.json", evaluation["feature_weights"])
    tracking.write_json(folder / "roc_curve.json", evaluation["roc"])
    tracking.write_json(folder / "pr_curve.json", evaluation["pr"])
    tracking.write_json(folder / "preprocessing.json", _preprocessing_stats(search.model))
    tracking.family_figure(family, evaluation).write_html(
        folder / "evaluation.html", include_plotlyjs=True, full_html=True
    )
    mlflow.log_artifacts(str(folder), artifact_path="evaluation")
    # Save once as an MLflow model, export the scorer from that copy, upload the folder.
    saved = out / "model"
    mlflow.spark.save_model(
        search.model, str(saved), pip_requirements=[f"pyspark=={pyspark.__version__}"]
    )
    scorer_sha = write_scorer_file(saved / "sparkml", folder / "scorer.json")
    mlflow.log_artifact(str(folder / "scorer.json"), artifact_path="scorer")
    mlflow.log_artifacts(str(saved), artifact_path="model")
    run_id = mlflow.active_run().info.run_id  # type: ignore[union-attr]
    return {
        "family": family,
        "child_run_id": run_id,
        "model_uri": f"runs:/{run_id}/model",
        "best_params": search.best_params,
        "grid": grid,
        "metrics": {k: float(v) for k, v in metrics.items()},
        "per_class": evaluation["per_class"],
        "confusion_matrix": matrix,
        "feature_weights": evaluation["feature_weights"],
        "roc": evaluation["roc"],
        "preprocessing": _preprocessing_stats(search.model),
        "scorer_sha256": scorer_sha,
        "eval_scores": evaluation["scores"],
    }


def run_training_job(
    spec: JobSpec,
    *,
    on_start: Callable[[str], None] | None = None,
    on_point: PointCallback | None = None,
    on_family: FamilyCallback | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> JobOutcome:
    """Train every family of `spec` under one MLflow parent run; return plain results."""
    with spark_in_use(
        master=spec.master,
        driver_memory=spec.driver_memory,
        work_dir=spec.work_dir,
        idle_release_seconds=spec.idle_release_seconds,
    ) as spark:
        return _train(
            spark,
            spec,
            on_start=on_start,
            on_point=on_point,
            on_family=on_family,
            on_phase=on_phase or (lambda phase: None),
        )


def _train(
    spark: SparkSession,
    spec: JobSpec,
    *,
    on_start: Callable[[str], None] | None,
    on_point: PointCallback | None,
    on_family: FamilyCallback | None,
    on_phase: Callable[[str], None],
) -> JobOutcome:
    COLLECTED.clear()
    if not spec.parquet_path.is_file():
        on_phase("preprocessing: writing the typed Parquet from the CSV (no `dvc repro` output)")
        processed_write(spark, spec.csv_path, spec.parquet_path, compression=spec.compression)
    processed_md5 = file_md5(spec.parquet_path)
    on_phase("preprocessing: reading the Parquet and splitting off the evaluation rows")
    frame = load_processed(spark, spec.parquet_path)
    train, evaluation = evaluation_split(
        frame, weights=spec.params.eval_split, seed=spec.params.seed
    )
    split_rows = train.count() if spec.holdout_rows else 0
    train, evaluation = holdout_exclude(spark, train, spec.holdout_rows).cache(), evaluation.cache()
    excluded = split_rows - train.count() if spec.holdout_rows else 0
    gate_rows = bounded_rows(evaluation, limit=spec.evaluation_max_rows, seed=spec.params.seed)
    versions = _versions(spark)
    results: dict[str, FamilyResult] = {}
    try:
        with mlflow.start_run(run_name=spec.run_name) as parent:
            if on_start:
                on_start(parent.info.run_id)
            mlflow.set_tags(
                {
                    **spec.tags,
                    **versions,
                    "profile": spec.profile,
                    "data_parquet_md5": processed_md5,
                }
            )
            mlflow.log_params(
                {
                    "profile": spec.profile,
                    "families": ",".join(spec.families),
                    "train_rows": train.count(),
                    "eval_rows": evaluation.count(),
                    "seed": spec.params.seed,
                    "holdout_rows_excluded": excluded,
                }
            )
            for family in spec.families:
                on_phase(f"searching {family}: {len(spec.params.points(family))} grid points")
                with (
                    mlflow.start_run(run_name=f"titanic-{family}", nested=True),
                    tempfile.TemporaryDirectory() as out,
                ):
                    mlflow.set_tags(
                        {**spec.tags, **versions, "profile": spec.profile, "family": family}
                    )
                    started = time.perf_counter()
                    with tracking.ResourceMonitor() as monitor:
                        search = search_family(
                            train,
                            family,
                            spec.params.points(family),
                            ratio=spec.params.tvs_train_ratio,
                            seed=spec.params.seed,
                            parallelism=spec.parallelism,
                            on_point=on_point,
                        )
                    assert monitor.usage is not None
                    evaluated = _evaluate(
                        family, search.model, evaluation, gate_rows, spec.evaluation_max_rows
                    )
                    results[family] = _log_family(search, evaluated, monitor.usage, Path(out))
                    results[family]["wall_seconds"] = time.perf_counter() - started
                    results[family]["usage"] = cast(ResourceUsageResult, monitor.usage.__dict__)
                if on_family:
                    on_family(family, results[family])
            best = max(results, key=lambda f: results[f]["metrics"]["eval_auc"])
            mlflow.set_tag("best_family", best)
            mlflow.log_metric("best_eval_auc", results[best]["metrics"]["eval_auc"])
            rows = collect_bounded(
                gate_rows.select(*FEATURES, "Survived"),
                purpose="evaluation",
                limit=spec.evaluation_max_rows,
            )
            profile = feature_profile(train)
            training_count = train.count()
            keys = _training_row_keys(train, training_count)
        return JobOutcome(
            parent_run_id=parent.info.run_id,
            families=results,
            best_family=best,
            evaluation_rows=[{name: row[name] for name in FEATURES} for row in rows],
            evaluation_labels=[int(row["Survived"]) for row in rows],
            feature_profile=profile,
            versions=versions,
            training_rows_count=training_count,
            training_row_keys=keys,
            holdout_rows_excluded=excluded,
            processed_md5=processed_md5,
        )
    finally:
        train.unpersist()
        evaluation.unpersist()
        gate_rows.unpersist()
