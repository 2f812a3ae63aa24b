"""MLflow tracking helpers, evaluation curves, figures and resource measurement (no pyspark)."""

import json
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import numpy as np
import plotly.graph_objects as go
import psutil
from plotly.subplots import make_subplots

from apps.training.results import Evaluation, PrCurve, RocCurve

MB = 1024 * 1024


@dataclass(frozen=True)
class ResourceUsage:
    wall_seconds: float
    peak_rss_driver_mb: float
    peak_rss_jvm_mb: float
    peak_rss_total_mb: float
    mean_cpu_percent: float  # of one core; 200 means two cores busy


class ResourceMonitor:
    """Sample RSS of this process and of its JVM children; CPU from cpu_times deltas."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._peaks = [0, 0, 0]
        self.usage: ResourceUsage | None = None

    def _tree(self) -> tuple[psutil.Process, list[psutil.Process]]:
        me = psutil.Process()
        return me, me.children(recursive=True)

    def _cpu_seconds(self) -> float:
        me, children = self._tree()
        total: float = sum(me.cpu_times()[:2])
        for child in children:
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
        return total

    def _sample(self) -> None:
        me, children = self._tree()
        driver = me.memory_info().rss
        jvm = 0
        for child in children:
            try:
                jvm += child.memory_info().rss
            except psutil.Error:
                continue
        for slot, value in enumerate((driver, jvm, driver + jvm)):
            self._peaks[slot] = max(self._peaks[slot], value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "ResourceMonitor":
        self._started = time.perf_counter()
        self._cpu_started = self._cpu_seconds()
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = time.perf_counter() - self._started
        cpu = self._cpu_seconds() - self._cpu_started
        self.usage = ResourceUsage(
            wall_seconds=round(wall, 3),
            peak_rss_driver_mb=round(self._peaks[0] / MB, 1),
            peak_rss_jvm_mb=round(self._peaks[1] / MB, 1),
            peak_rss_total_mb=round(self._peaks[2] / MB, 1),
            mean_cpu_percent=round(100 * cpu / wall, 1) if wall > 0 else 0.0,
        )


def roc_curve(y: np.ndarray, p: np.ndarray) -> RocCurve:
    """False/true positive rates at every distinct score, from the highest down."""
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    distinct = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p_sorted) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    positives, negatives = max(tps[-1], 1), max(fps[-1], 1)
    return {
        "fpr": [0.0, *(fps / negatives).tolist()],
        "tpr": [0.0, *(tps / positives).tolist()],
        "threshold": [1.0, *p_sorted[distinct].tolist()],
    }


def pr_curve(y: np.ndarray, p: np.ndarray) -> PrCurve:
    """Precision and recall at every distinct score threshold."""
    roc = roc_curve(y, p)
    positives = max(int(y.sum()), 1)
    tps = np.asarray(roc["tpr"][1:]) * positives
    predicted = tps + np.asarray(roc["fpr"][1:]) * max(len(y) - positives, 1)
    precision = np.divide(tps, predicted, out=np.ones_like(tps), where=predicted > 0)
    return {
        "recall": [0.0, *(tps / positives).tolist()],
        "precision": [1.0, *precision.tolist()],
        "threshold": roc["threshold"],
    }


def family_figure(family: str, evaluation: Evaluation) -> go.Figure:
    """Confusion matrix, ROC, PR and importances of one family in one figure."""
    figure = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=("Confusion matrix", "ROC curve", "Precision-recall", "Feature weights"),
    )
    matrix = evaluation["confusion_matrix"]
    figure.add_trace(
        go.Heatmap(
            z=matrix,
            x=["pred 0", "pred 1"],
            y=["true 0", "true 1"],
            text=matrix,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        ),
        row=1,
        col=1,
    )
    roc, pr = evaluation["roc"], evaluation["pr"]
    figure.add_trace(go.Scatter(x=roc["fpr"], y=roc["tpr"], name="ROC"), row=1, col=2)
    figure.add_trace(go.Scatter(x=pr["recall"], y=pr["precision"], name="PR"), row=2, col=1)
    weights = evaluation["feature_weights"]
    figure.add_trace(
        go.Bar(x=list(weights.values()), y=list(weights), orientation="h", name="weights"),
        row=2,
        col=2,
    )
    figure.update_layout(
        title=f"titanic-{family}: evaluation AUC {evaluation['auc']:.4f}",
        height=800,
        showlegend=False,
    )
    return figure


def write_json(path: Path, payload: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False))
    return path


def mlflow_experiment(*, tracking_uri: str, experiment: str, artifact_root: str) -> str:
    """Point MLflow at the store and return the experiment id, creating it when needed."""
    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = f"{artifact_root.rstrip('/')}/{experiment}" if artifact_root else None
        experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit(cwd: Path) -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def usage_metrics(usage: ResourceUsage) -> dict[str, float]:
    return {key: float(value) for key, value in asdict(usage).items()}
