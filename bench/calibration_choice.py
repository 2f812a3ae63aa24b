"""Measurement behind the calibration choice: Platt's sigmoid vs isotonic on 145 rows.

Repeated random splits of the real Titanic rows: a gradient-boosted model (overconfident, like the
grid's GBT) learns on 600 rows, each calibration is fitted on 145 held-out rows (the evaluation
split's size), and both are judged on the remaining 146 rows: log loss, Brier score, and the error
of the label-free accuracy estimate (what monitoring uses the calibration for).
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.metrics import brier_score_loss, log_loss  # noqa: E402

from apps.training.contract import parse_dataset  # noqa: E402
from apps.training.dataset import builtin_titanic_bytes  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "calibration_choice.json"
CACHE = ROOT / "var" / "cache"


def _matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    features = [
        [
            r["Pclass"],
            r["Sex"] == "female",
            28.0 if r["Age"] is None else r["Age"],
            r["SibSp"],
            r["Parch"],
            r["Fare"] or 14.5,
            r["Embarked"] == "C",
            r["Embarked"] == "Q",
        ]
        for r in rows
    ]
    return np.asarray(features, dtype=float), np.asarray([r["Survived"] for r in rows])


def _split(seed: int, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    order = np.random.default_rng(seed).permutation(y.size)
    train, calib, test = order[:600], order[600:745], order[745:]
    model = GradientBoostingClassifier(n_estimators=200, max_depth=4, random_state=seed)
    model.fit(x[train], y[train])
    out = {}
    for method in ("sigmoid", "isotonic"):
        cal = CalibratedClassifierCV(FrozenEstimator(model), method=method)
        p = cal.fit(x[calib], y[calib]).predict_proba(x[test])[:, 1]
        served = model.predict_proba(x[test])[:, 1] > 0.5
        expected_accuracy = float(np.mean(np.where(served, p, 1 - p)))
        realised = float(np.mean(served == (y[test] == 1)))
        out[f"{method}_log_loss"] = log_loss(y[test], np.clip(p, 1e-6, 1 - 1e-6))
        out[f"{method}_brier"] = brier_score_loss(y[test], p)
        out[f"{method}_accuracy_error"] = abs(expected_accuracy - realised)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=100)
    args = parser.parse_args()
    x, y = _matrix(parse_dataset(builtin_titanic_bytes(CACHE)).rows)
    runs = [_split(seed, x, y) for seed in range(args.splits)]
    summary = {key: statistics.mean(run[key] for run in runs) for key in runs[0]}
    summary["sigmoid_wins_log_loss"] = sum(
        run["sigmoid_log_loss"] < run["isotonic_log_loss"] for run in runs
    ) / len(runs)
    summary["splits"] = len(runs)
    print(f"{'metric (mean over splits)':<28}{'sigmoid':>10}{'isotonic':>10}")
    for metric in ("log_loss", "brier", "accuracy_error"):
        print(
            f"{metric:<28}{summary[f'sigmoid_{metric}']:>10.4f}{summary[f'isotonic_{metric}']:>10.4f}"
        )
    print(f"sigmoid has the lower log loss in {summary['sigmoid_wins_log_loss']:.0%} of splits")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
