"""Real Spark (local mode) training with a real MLflow store: the quick profile end to end."""

import io
import json
from pathlib import Path
from typing import Any

import mlflow
import pytest
from django.core.management import call_command
from mlflow import MlflowClient

from apps.training.models import DataVersion, TrainingRun
from apps.training.params import load_params
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request

pytestmark = [pytest.mark.spark, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[2]

CHILD_METRICS = {
    "eval_auc",
    "eval_accuracy",
    "best_validation_auc",
    "validation_auc",
    "eval_precision_0",
    "eval_recall_0",
    "eval_f1_0",
    "eval_precision_1",
    "eval_recall_1",
    "eval_f1_1",
    "wall_seconds",
    "peak_rss_driver_mb",
    "peak_rss_jvm_mb",
    "mean_cpu_percent",
}
CHILD_TAGS = {
    "data_version_md5",
    "git_commit",
    "spark_version",
    "java_version",
    "mlflow_version",
    "profile",
    "training_run_id",
}
CHILD_ARTIFACTS = {
    "evaluation/confusion_matrix.csv",
    "evaluation/evaluation.html",
    "evaluation/feature_weights.json",
    "evaluation/roc_curve.json",
    "evaluation/pr_curve.json",
    "evaluation/grid_results.json",
    "evaluation/search_space.json",
    "evaluation/preprocessing.json",
    "scorer/scorer.json",
}


def _train_json() -> dict[str, Any]:
    out = io.StringIO()
    call_command(
        "train", "--profile", "quick", "--json", "--force", stdout=out, stderr=io.StringIO()
    )
    return json.loads(out.getvalue())


def _artifacts(client: MlflowClient, run_id: str, path: str = "") -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_it_trains_the_quick_profile_and_tracks_every_item(
    spark: Any, ingested: DataVersion, mlflow_store: str
) -> None:
    first = _train_json()
    assert first["status"] == "succeeded"
    assert set(first["families"]) == {"lr", "rf", "gbt"}
    assert all(0.8 < f["eval_auc"] < 0.95 for f in first["families"].values())
    client = MlflowClient(mlflow_store)
    parent = client.get_run(first["mlflow_parent_run_id"])
    assert parent.data.tags["best_family"] == first["best_family"]
    assert parent.data.tags["data_version_md5"] == ingested.md5
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(c.info.run_name for c in children) == ["titanic-gbt", "titanic-lr", "titanic-rf"]
    for child in children:
        assert set(child.data.metrics) >= CHILD_METRICS, child.info.run_name
        assert set(child.data.tags) >= CHILD_TAGS
        assert child.data.metrics["peak_rss_jvm_mb"] > 100  # the JVM is measured, not just Python
        assert _artifacts(client, child.info.run_id) >= CHILD_ARTIFACTS
        assert any(k.startswith("best_") for k in child.data.params)
        history = client.get_metric_history(child.info.run_id, "validation_auc")
        family = child.info.run_name.removeprefix("titanic-")
        assert len(history) == len(load_params(ROOT / "params.yaml", "quick").points(family))
    run = TrainingRun.objects.get(pk=first["training_run_id"])
    assert (run.progress_done, run.progress_total, run.active) == (5, 5, None)
    weights = run.results["lr"]["feature_weights"]
    assert {"Pclass", "Age", "Sex=male", "Sex=female", "Embarked=S", "Embarked=C"} <= set(weights)
    assert weights["Sex=female"] > 0 > weights["Pclass"]  # women and upper classes survived more
    preprocessing = run.results["rf"]["preprocessing"]
    assert preprocessing["Embarked_mode"] == "S"
    assert 20 < preprocessing["medians"]["Age"] < 35

    second = _train_json()  # determinism: the same data and profile give the same results
    for family, result in first["families"].items():
        again = second["families"][family]
        assert again["best_params"] == result["best_params"]
        assert again["eval_auc"] == result["eval_auc"]
    assert (
        TrainingRun.objects.get(pk=second["training_run_id"]).results["rf"]["metrics"][
            "best_validation_auc"
        ]
        == run.results["rf"]["metrics"]["best_validation_auc"]
    )


def test_it_fails_cleanly_when_a_family_breaks(
    spark: Any, ingested: DataVersion, mlflow_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.training.spark import job

    real_search = job.search_family

    def broken_for_rf(train: Any, family: str, *args: Any, **kwargs: Any) -> Any:
        if family == "rf":
            raise RuntimeError("simulated executor loss in rf")  # the failure under test
        return real_search(train, family, *args, **kwargs)

    monkeypatch.setattr(job, "search_family", broken_for_rf)
    run = training_run_execute(
        run_id=training_run_request(profile="quick", families="lr,rf,gbt").pk
    )
    assert run.status == "failed"
    assert "simulated executor loss in rf" in run.error
    assert run.active is None
    assert list(run.results) == ["lr"]
    client = MlflowClient(mlflow_store)
    parent = client.get_run(run.mlflow_parent_run_id)
    assert parent.info.status == "FAILED"
    children = {
        c.info.run_name: c
        for c in client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
    }
    assert children["titanic-lr"].info.status == "FINISHED"
    assert "eval_auc" in children["titanic-lr"].data.metrics
    assert children["titanic-rf"].info.status == "FAILED"
    assert "titanic-gbt" not in children
    assert mlflow.active_run() is None
    assert client.search_registered_models() == []


def test_it_searches_like_the_naive_pipeline_per_point(spark: Any, titanic_csv: Path) -> None:
    from apps.training.spark.pipeline import evaluation_split, load_typed
    from apps.training.spark.search import naive_search, search_family

    params = load_params(ROOT / "params.yaml", "quick")
    train, _ = evaluation_split(load_typed(spark, titanic_csv))
    # GBT points that differ only in maxIter share one fit (prefix models): cover that too.
    boosted = [{"maxIter": n, "maxDepth": d, "stepSize": 0.1} for n in (12, 6) for d in (2, 3)]
    for family, points in [*((f, params.points(f)) for f in ("lr", "rf", "gbt")), ("gbt", boosted)]:
        fast = search_family(train, family, points, ratio=0.8, seed=42)
        naive = naive_search(train, family, points, ratio=0.8, seed=42)
        assert fast.best_params == naive.best_params
        for ours, theirs in zip(fast.validation_auc, naive.validation_auc, strict=True):
            assert abs(ours - theirs) <= 1e-9
        print(f"{family}: best {fast.best_params}, validation AUC {fast.validation_auc}")
