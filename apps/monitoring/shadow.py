"""Shadow replay's numbers (pure numpy): agreement, flips by segment, paired realised metrics."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from apps.training.metrics import Z_95, auc_difference

THRESHOLD = 0.5
HISTOGRAM_EDGES = np.linspace(0.0, 1.0, 11)


def _segments(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    return {
        "Sex x Pclass": [f"{row['Sex']} / {row['Pclass']}" for row in rows],
        "Embarked": [str(row["Embarked"] or "missing") for row in rows],
    }


def _flips_by(keys: list[str], flipped: np.ndarray) -> list[dict[str, Any]]:
    values = np.asarray(keys)
    result = []
    for key in sorted(set(keys)):
        inside = values == key
        n, flips = int(inside.sum()), int(flipped[inside].sum())
        result.append({"segment": key, "rows": n, "flips": flips, "share": flips / n})
    return result


def _histogram(scores: np.ndarray) -> list[int]:
    counts, _ = np.histogram(scores, bins=HISTOGRAM_EDGES)
    return [int(c) for c in counts]


def _labelled(labels: np.ndarray, candidate: np.ndarray, champion: np.ndarray) -> dict[str, Any]:
    known = labels >= 0
    y, cand, champ = labels[known], candidate[known], champion[known]
    result: dict[str, Any] = {"rows": int(known.sum()), "auc": None}
    if not y.size:
        return result
    right_cand = ((cand > THRESHOLD) == (y == 1)).astype(float)
    right_champ = ((champ > THRESHOLD) == (y == 1)).astype(float)
    diff = right_cand - right_champ
    # Paired: the same passengers judged twice, so the SE comes from the per-row differences.
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
    result["accuracy"] = {
        "candidate": float(right_cand.mean()),
        "champion": float(right_champ.mean()),
        "delta": float(diff.mean()),
        "ci_low": float(diff.mean() - Z_95 * se),
        "ci_high": float(diff.mean() + Z_95 * se),
    }
    positives = int(y.sum())
    if min(positives, y.size - positives) >= 2:
        result["auc"] = auc_difference(y, cand, champ).as_dict()  # DeLong, paired
    return result


def shadow_compare(
    rows: Sequence[Mapping[str, Any]],
    candidate: npt.ArrayLike,
    champion: npt.ArrayLike,
    labels: Sequence[int | None],
) -> dict[str, Any]:
    """Compare two scorers' answers on the same rows; labels may be None (not yet known)."""
    cand = np.asarray(candidate, dtype=np.float64)
    champ = np.asarray(champion, dtype=np.float64)
    flipped = (cand > THRESHOLD) != (champ > THRESHOLD)
    n = int(cand.size)
    known = np.array([-1 if label is None else int(label) for label in labels], dtype=np.int64)
    return {
        "rows": n,
        "agreement": float(1.0 - flipped.mean()) if n else None,
        "flips": int(flipped.sum()),
        "flip_share": float(flipped.mean()) if n else None,
        "flips_to_survive": int(np.sum(flipped & (cand > THRESHOLD))),
        "segments": {name: _flips_by(keys, flipped) for name, keys in _segments(rows).items()},
        "histograms": {
            "edges": HISTOGRAM_EDGES.tolist(),
            "candidate": _histogram(cand),
            "champion": _histogram(champ),
        },
        "labelled": _labelled(known, cand, champ),
    }
