"""Rows for dashboard tests: runs with realistic results, versions, drift reports, traffic.

Shapes follow what the services write: training results are the TypedDicts of
apps/training/results.py (as apps/training/spark/job.py builds them), evidence as gate.py writes it.
`registered_version` goes further: a real MLflow run with the portable scorer as its artifact and
a real registered version, so that promotion buttons run the real services end to end.
"""

import hashlib
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.monitoring.models import DriftReport
from apps.portable.format import canonical_json
from apps.serving.models import InferenceLog
from apps.training import registry
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)
from apps.training.results import ClassMetrics, FamilyResult, RocCurve
from tests.factories import NAMES, scorer_dict

FEATURES = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
AUCS = {"lr": 0.8676, "rf": 0.8841, "gbt": 0.8712}


def data_version_create(md5: str = "a" * 32, *, current: bool = True, **extra: Any) -> DataVersion:
    if current:
        DataVersion.objects.filter(is_current=True).update(is_current=False)
    fields = {
        "size_bytes": 61194,
        "rows": 891,
        "positives": 342,
        "columns": ["Survived", *FEATURES],
        "missing": {
            "Survived": 0,
            "Pclass": 0,
            "Sex": 0,
            "Age": 177,
            "SibSp": 0,
            "Parch": 0,
            "Fare": 0,
            "Embarked": 2,
        },
        "summary": {
            "Sex": {"missing": 0, "count": 891, "levels": {"male": 577, "female": 314}},
            "Age": {
                "missing": 177,
                "count": 714,
                "min": 0.42,
                "max": 80.0,
                "mean": 29.7,
                "std": 14.5,
                "median": 28.0,
            },
        },
        "source": "kaggle train.csv (test)",
        **extra,
    }
    return DataVersion.objects.create(md5=md5, is_current=current, **fields)


def family_result(family: str, auc: float | None = None) -> FamilyResult:
    """One family's results as the training job stores them."""
    auc = AUCS.get(family, 0.85) if auc is None else auc
    rng = random.Random(family)
    fpr = sorted({0.0, 1.0, *(round(rng.random(), 3) for _ in range(30))})
    tpr = sorted(min(1.0, f**0.35) for f in fpr)
    weights = {
        name: round(rng.uniform(-1, 1) if family == "lr" else rng.random() / 5, 4) for name in NAMES
    }
    per_class: dict[str, ClassMetrics] = {
        "0": {"precision": 0.84, "recall": 0.88, "f1": 0.86, "support": 84},
        "1": {"precision": 0.82, "recall": 0.77, "f1": 0.80, "support": 61},
    }
    roc: RocCurve = {"fpr": fpr, "tpr": tpr, "threshold": [1.0] * len(fpr)}
    return {
        "family": family,
        "child_run_id": f"child-{family}",
        "model_uri": f"runs:/child-{family}/model",
        "best_params": {"regParam": 0.01} if family == "lr" else {"maxDepth": 5},
        "grid": [
            {"params": {"p": i}, "validation_auc": round(auc - 0.01 * i, 4)} for i in range(3)
        ],
        "metrics": {
            "eval_auc": auc,
            "eval_accuracy": 0.8345,
            "best_validation_auc": auc - 0.02,
            "search_seconds": 8.4,
            "refit_seconds": 1.7,
            "wall_seconds": {"lr": 10.1, "rf": 21.7, "gbt": 35.2}.get(family, 5.0),
            "peak_rss_driver_mb": 270.2,
            "peak_rss_jvm_mb": {"lr": 970.1, "rf": 1180.5, "gbt": 1320.0}.get(family, 900.0),
            "peak_rss_total_mb": 1240.3,
            "mean_cpu_percent": 148.4,
            **{
                f"eval_{m}_{c}": per_class[c][m]
                for c in "01"
                for m in ("precision", "recall", "f1")
            },
        },
        "per_class": per_class,
        "confusion_matrix": [[74, 10], [14, 47]],
        "feature_weights": weights,
        "roc": roc,
        "scorer_sha256": "0" * 64,
        "eval_scores": [0.5] * 145,
        "wall_seconds": 10.0,
    }


def run_create(
    *,
    status: str = TrainingRun.Status.SUCCEEDED,
    families: tuple[str, ...] = ("lr", "rf", "gbt"),
    data: DataVersion | None = None,
    **extra: Any,
) -> TrainingRun:
    finished = status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)
    now = timezone.now()
    results = {f: family_result(f) for f in families} if finished else {}
    best = max(results, key=lambda f: results[f]["metrics"]["eval_auc"]) if results else ""
    fields: dict[str, Any] = {
        "status": status,
        "active": None if finished else True,
        "profile": "quick",
        "families": list(families),
        "data_version": data
        or DataVersion.objects.filter(is_current=True).first()
        or data_version_create(),
        "trigger": TrainingRun.Trigger.CLI,
        "progress_total": 5,
        "progress_done": 5 if finished else 2,
        "results": results,
        "best_family": best,
        "best_eval_auc": results[best]["metrics"]["eval_auc"] if best else None,
        "started_at": now - timedelta(seconds=70),
        "heartbeat_at": now,
        "finished_at": now if finished else None,
        **extra,
    }
    return TrainingRun.objects.create(**fields)


def evidence(
    candidate_auc: float,
    champion_auc: float | None,
    champion_version: int | None,
    passed: bool = True,
) -> dict[str, Any]:
    """Gate evidence in GateVerdict.as_dict() form."""
    metrics = {
        "per_class": {
            "0": {"precision": 0.84, "recall": 0.88, "f1": 0.86},
            "1": {"precision": 0.82, "recall": 0.77, "f1": 0.80},
        }
    }
    older = {
        "per_class": {
            "0": {"precision": 0.83, "recall": 0.89, "f1": 0.86},
            "1": {"precision": 0.80, "recall": 0.76, "f1": 0.78},
        }
    }
    delta = candidate_auc - (champion_auc or 0.0)
    return {
        "passed": passed,
        "reasons": [
            f"{'PASS' if passed else 'FAIL'} AUC gain {delta:+.4f} >= min_auc_delta 0.0050"
        ],
        "notes": ["AUC delta is within 1.96 SE: not distinguishable from noise on this split"],
        "policy": {"min_auc": 0.75, "min_auc_delta": 0.005, "max_class_drop": 0.02},
        "n_rows": 145,
        "n_positives": 61,
        "candidate": {"auc": candidate_auc, "metrics": metrics},
        "champion": None if champion_auc is None else {"auc": champion_auc, "metrics": older},
        "difference": None
        if champion_auc is None
        else {
            "candidate_auc": candidate_auc,
            "champion_auc": champion_auc,
            "delta": delta,
            "se": 0.026,
            "ci_low": delta - 0.051,
            "ci_high": delta + 0.051,
            "z": delta / 0.026,
            "p_value": 0.61,
            "n_rows": 145,
            "n_positives": 61,
        },
        "class_drops": None,
        "champion_version": champion_version,
    }


def model_version_create(
    version: int,
    *,
    status: str = ModelVersion.Status.CHAMPION,
    run: TrainingRun | None = None,
    auc: float = 0.8676,
    family: str = "lr",
    **extra: Any,
) -> ModelVersion:
    """A mirror row only (no scorer file): enough for pages, not for promotion."""
    run = run or run_create(families=(family,))
    champion = status == ModelVersion.Status.CHAMPION
    if champion:
        ModelVersion.objects.filter(is_champion=True).update(is_champion=None, status="retired")
    fields: dict[str, Any] = {
        "name": settings.MLFLOW_MODEL_NAME,
        "version": version,
        "training_run": run,
        "data_version": run.data_version,
        "family": family,
        "mlflow_run_id": f"run{version}",
        "model_uri": f"runs:/run{version}/model",
        "scorer_uri": f"runs:/run{version}/scorer/scorer.json",
        "scorer_sha256": "0" * 64,
        "metrics": {
            "eval_auc": auc,
            "eval_accuracy": 0.83,
            "eval_recall_1": 0.77,
            "eval_precision_1": 0.82,
        },
        "gate_evidence": evidence(auc, None, None),
        "status": status,
        "is_champion": True if champion else None,
        "champion_since": timezone.now() if champion else None,
        **extra,
    }
    return ModelVersion.objects.create(**fields)


def pending_request(candidate: ModelVersion, champion: ModelVersion | None) -> PromotionRequest:
    """Make `candidate` wait for approval as the gate does (evidence, request, await event)."""
    candidate.gate_evidence = evidence(
        candidate.metrics["eval_auc"],
        champion.metrics["eval_auc"] if champion else None,
        champion.version if champion else None,
    )
    candidate.save(update_fields=["gate_evidence"])
    PromotionEvent.objects.create(
        action=PromotionEvent.Action.AWAIT,
        reason=PromotionEvent.Reason.GATE,
        actor="gate",
        from_version=champion.version if champion else None,
        to_version=candidate.version,
        evidence=candidate.gate_evidence,
    )
    return PromotionRequest.objects.create(
        model_version=candidate, evidence=candidate.gate_evidence
    )


def _feature_doc(name: str, psi: float | None, floor: float | None, shift: float) -> dict[str, Any]:
    labels = {
        "Sex": ["male", "female", "OTHER", "MISSING"],
        "Pclass": ["1", "2", "3", "OTHER", "MISSING"],
    }.get(name, ["<= 20", "20-28", "28-38", "> 38", "MISSING"])
    size = len(labels)
    expected = [round(1.0 / size, 4)] * size
    actual = [
        max(0.0, e + (shift if i == 0 else -shift / (size - 1))) for i, e in enumerate(expected)
    ]
    return {
        "psi": psi,
        "floor": floor,
        "drifted": bool(psi and psi >= 0.2 and psi > (floor or 0)),
        "labels": labels,
        "expected": expected,
        "actual": actual,
        "counts": [10] * size,
    }


def drift_report_create(
    *,
    created_at: datetime | None = None,
    verdict: str = DriftReport.Verdict.NONE,
    psi: dict[str, float] | None = None,
    rows: int = 120,
    model_version: int | None = 1,
) -> DriftReport:
    """A report with per-feature PSI (computed ones only when `psi` is given)."""
    now = created_at or timezone.now()
    features = {
        name: _feature_doc(name, value, 0.05, value / 2) for name, value in (psi or {}).items()
    }
    report = DriftReport.objects.create(
        window_start=now - timedelta(hours=1),
        window_end=now,
        rows=rows,
        model_version=model_version,
        verdict=verdict,
        max_psi=max(psi.values()) if psi else None,
        features=features,
        thresholds={"threshold": 0.2, "critical": 0.3, "min_rows": 50},
        trigger="schedule",
    )
    DriftReport.objects.filter(pk=report.pk).update(created_at=now)  # auto_now_add ignores it
    report.refresh_from_db()
    return report


def inference_rows(
    count: int,
    *,
    version: int = 1,
    now: datetime | None = None,
    spread_hours: float = 48.0,
    seed: int = 1,
) -> list[InferenceLog]:
    """`count` logged predictions spread over the last `spread_hours`, in one bulk insert."""
    rng = random.Random(seed)
    now = now or timezone.now()
    rows = []
    for i in range(count):
        probability = rng.random()
        rows.append(
            InferenceLog(
                created_at=now - timedelta(hours=spread_hours * i / max(count, 1)),
                model_version=version,
                pclass=rng.choice([1, 2, 3]),
                sex=rng.choice(["male", "female"]),
                age=None if i % 7 == 0 else round(rng.uniform(1, 70), 1),
                sibsp=rng.choice([0, 0, 1, 2]),
                parch=rng.choice([0, 0, 1]),
                fare=round(rng.uniform(5, 120), 2),
                embarked=rng.choice(["S", "C", "Q", None]),
                prob_survive=probability,
                label=int(probability > 0.5),
                latency_ms=1.0 + i % 100,  # latencies 1..100 ms, known median
                true_label=rng.choice([0, 1]) if i % 3 == 0 else None,
            )
        )
    return InferenceLog.objects.bulk_create(rows, batch_size=1000)


def registered_version(
    version: int,
    *,
    tmp_path: Path,
    champion: bool,
    intercept: float = 0.5,
    run: TrainingRun | None = None,
) -> ModelVersion:
    """A real MLflow run holding a portable scorer, registered as `version`, plus its mirror row."""
    from mlflow import MlflowClient

    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    experiment = client.get_experiment_by_name("dashboard-tests")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(
            "dashboard-tests", artifact_location=(tmp_path / "mlartifacts").as_uri()
        )
    )
    mlflow_run = client.create_run(experiment_id)
    run_id = mlflow_run.info.run_id
    payload = canonical_json(scorer_dict(intercept))
    folder = tmp_path / f"scorer-v{version}"
    folder.mkdir()
    (folder / "scorer.json").write_bytes(payload)
    client.log_artifact(run_id, str(folder / "scorer.json"), artifact_path="scorer")
    client.set_terminated(run_id)
    sha = hashlib.sha256(payload).hexdigest()
    number = registry.version_register(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        name=settings.MLFLOW_MODEL_NAME,
        model_uri=f"runs:/{run_id}/scorer",
        run_id=run_id,
        tags={"scorer_sha256": sha},
    )
    assert number == version, f"MLflow numbered it {number}, the test expected {version}"
    mirror = model_version_create(
        version,
        status=ModelVersion.Status.CHAMPION if champion else ModelVersion.Status.CANDIDATE,
        run=run,
        mlflow_run_id=run_id,
        model_uri=f"runs:/{run_id}/scorer",
        scorer_uri=f"runs:/{run_id}/{registry.SCORER_ARTIFACT}",
        scorer_sha256=sha,
        auc=0.86 + version / 100,
    )
    if champion:
        registry.alias_set(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=settings.MLFLOW_MODEL_NAME,
            alias=registry.CHAMPION,
            version=version,
        )
    else:
        registry.alias_set(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=settings.MLFLOW_MODEL_NAME,
            alias=registry.CHALLENGER,
            version=version,
        )
    return mirror


def alias(name: str) -> int | None:
    return registry.alias_version(
        tracking_uri=settings.MLFLOW_TRACKING_URI, name=settings.MLFLOW_MODEL_NAME, alias=name
    )
