"""What a training job returns, typed, without pyspark: the Spark job builds these, registration,
the run pages and the test factories read them.

The per-family results are TypedDicts because they are stored as they are in the JSON column
`TrainingRun.results`: a TypedDict is a plain dict at run time, so the stored JSON stays the same.
"""

from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from apps.core.bins import Baseline

# A grid point or the winning parameters: Spark param name -> value.
ParamValue = float | int | str | bool
Params = dict[str, ParamValue]
# A feature's value in a row (None when missing), as the evaluation and training rows hold it.
RowValue = float | int | str | None
Row = dict[str, RowValue]


class GridPoint(TypedDict):
    params: Params
    validation_auc: float


class ClassMetrics(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int


class EvaluationMetrics(TypedDict):
    """Accuracy, per-class precision/recall/F1 and confusion matrix at one threshold."""

    threshold: float
    n_rows: int
    accuracy: float
    per_class: dict[str, ClassMetrics]  # keyed "0" and "1"
    confusion_matrix: list[list[int]]  # rows true class, columns predicted class


class RocCurve(TypedDict):
    fpr: list[float]
    tpr: list[float]
    threshold: list[float]


class PrCurve(TypedDict):
    recall: list[float]
    precision: list[float]
    threshold: list[float]


class ResourceUsageResult(TypedDict):
    """`tracking.ResourceUsage` as stored: wall time, peak RSS of driver and JVM, mean CPU."""

    wall_seconds: float
    peak_rss_driver_mb: float
    peak_rss_jvm_mb: float
    peak_rss_total_mb: float
    mean_cpu_percent: float  # of one core; 200 means two cores busy


class Preprocessing(TypedDict, total=False):
    """Fitted preprocessing statistics (the scaler ones only where the family scales)."""

    indexer_labels: dict[str, list[str]]
    Embarked_mode: str
    medians: dict[str, float]
    scaler_mean: list[float]
    scaler_std: list[float]


class Evaluation(TypedDict):
    """One family's winner scored on the shared evaluation split."""

    auc: float
    accuracy: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    roc: RocCurve
    pr: PrCurve
    feature_weights: dict[str, float]  # LR coefficients or tree importances, by feature name
    scores: list[float]  # P(survived) per evaluation row, in row order


class FamilyResult(TypedDict):
    """One family of a training job, as `TrainingRun.results[family]` stores it.

    `metrics` holds eval_auc, eval_accuracy, best_validation_auc, search/refit seconds, the
    resource usage and eval_{precision,recall,f1}_{0,1}: flat floats, as MLflow logs them.
    """

    family: str
    child_run_id: str
    model_uri: str
    best_params: Params
    grid: list[GridPoint]
    metrics: dict[str, float]
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    feature_weights: dict[str, float]
    roc: RocCurve
    preprocessing: NotRequired[Preprocessing]
    scorer_sha256: str
    eval_scores: list[float]
    wall_seconds: NotRequired[float]  # search + refit + evaluation + logging
    usage: NotRequired[ResourceUsageResult]


@dataclass
class JobOutcome:
    """A finished training job: every family's results and the rows registration needs."""

    parent_run_id: str
    families: dict[str, FamilyResult]
    best_family: str
    # The evaluation rows the driver holds: all of them, or a fixed sample of EVALUATION_MAX_ROWS.
    evaluation_rows: list[Row] = field(default_factory=list)
    evaluation_labels: list[int] = field(default_factory=list)
    # The drift baseline of the training rows, aggregated by Spark (the shape of bins.Baseline).
    feature_profile: Baseline | None = None
    versions: dict[str, str] = field(default_factory=dict)
    training_rows_count: int = 0
    # Content keys of the rows the job trained on (apps.training.holdout.row_key), only while
    # there are few enough of them to audit; empty for large data sets.
    training_row_keys: list[str] = field(default_factory=list)
    holdout_rows_excluded: int = 0
    processed_md5: str = ""  # md5 of the typed Parquet the job read (DVC's hash)

    @property
    def best(self) -> FamilyResult:
        """The winning family's results."""
        return self.families[self.best_family]
