"""The frozen reference holdout and the label guard: row keys and pure checks (no Django).

A holdout row is identified by a hash of its content (the seven features and the label), so the
key survives appending rows to the data and reordering it. Rows of later data versions whose
content equals a holdout row are never trained on.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from apps.core.features import BY_NAME, FEATURES, LABEL
from apps.training.metrics import labels_array, roc_auc, scores_array

COLUMNS: tuple[str, ...] = (*FEATURES, LABEL.name)
# 22 and 22.0 must give one key whether a value came from Spark, JSON or a CSV parser.
_FLOATS = frozenset(name for name in COLUMNS if BY_NAME[name].kind == "float")
_EPS = 1e-12


def _canonical(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _FLOATS:
        return float(value)
    if BY_NAME[name].kind == "choice":
        return str(value)
    return int(value)


def canonical_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's holdout columns with canonical types (floats for Age/Fare, ints, strings)."""
    return {name: _canonical(name, row.get(name)) for name in COLUMNS}


def row_key(row: Mapping[str, Any]) -> str:
    """Content hash of one row's features and label (sha256 hex)."""
    values = [canonical_row(row)[name] for name in COLUMNS]
    text = json.dumps(values, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def row_keys(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The set of content keys of `rows`."""
    return {row_key(row) for row in rows}


@dataclass(frozen=True)
class HoldoutScore:
    """One version's behaviour on the frozen holdout rows."""

    n_rows: int
    n_positives: int
    auc: float
    accuracy: float
    predicted_positive_rate: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def holdout_score(*, y_true: npt.ArrayLike, scores: npt.ArrayLike) -> HoldoutScore:
    """AUC, accuracy and predicted-positive share of one version on the holdout."""
    labels = labels_array(y_true)
    probabilities = scores_array(scores, labels.size, "scores")
    predicted = probabilities >= 0.5
    return HoldoutScore(
        n_rows=int(labels.size),
        n_positives=int(labels.sum()),
        auc=roc_auc(labels, probabilities),
        accuracy=float(np.mean(predicted == labels)),
        predicted_positive_rate=float(np.mean(predicted)),
    )


def flip_rate(candidate: npt.ArrayLike, champion: npt.ArrayLike) -> float:
    """Share of rows whose predicted label (threshold 0.5) differs between two versions."""
    new = np.asarray(candidate, dtype=float) >= 0.5
    old = np.asarray(champion, dtype=float) >= 0.5
    if new.shape != old.shape or new.size == 0:
        raise ValueError("both score arrays must be equally long and non-empty")
    return float(np.mean(new != old))


@dataclass(frozen=True)
class LabelGuardPolicy:
    """Bounds a label-driven candidate must stay within to promote itself."""

    max_balance_shift: float = 0.15
    max_holdout_auc_drop: float = 0.01
    max_holdout_flip_rate: float = 0.15

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class LabelGuardVerdict:
    """Whether a label-driven candidate may promote itself, and why."""

    passed: bool
    reasons: tuple[str, ...]
    policy: LabelGuardPolicy
    new_rows: int
    new_positive_share: float
    base_positive_share: float
    holdout_auc_drop: float | None
    holdout_flip_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["reasons"] = list(self.reasons)
        return found


def _balance_reason(share: float, base: float, rows: int, bound: float) -> tuple[str, bool]:
    shift = share - base
    ok = abs(shift) <= bound + _EPS
    relation = "<=" if ok else ">"
    return (
        f"{'PASS' if ok else 'FAIL'} label balance: the {rows} new labelled rows are "
        f"{share:.1%} Survived=1 vs {base:.1%} in the base data (shift {shift:+.3f}, "
        f"|shift| {relation} max {bound:.3f})"
    ), ok


def _holdout_reasons(
    drop: float | None, flips: float | None, policy: LabelGuardPolicy
) -> tuple[list[str], bool]:
    if drop is None or flips is None:
        return ["PASS holdout behaviour: no champion to compare with on the frozen holdout"], True
    drop_ok = drop <= policy.max_holdout_auc_drop + _EPS
    flips_ok = flips <= policy.max_holdout_flip_rate + _EPS
    return [
        f"{'PASS' if drop_ok else 'FAIL'} holdout behaviour: frozen-holdout AUC drop "
        f"{drop:+.4f} vs the champion ({'<=' if drop_ok else '>'} max "
        f"{policy.max_holdout_auc_drop:.4f} for label-driven candidates)",
        f"{'PASS' if flips_ok else 'FAIL'} holdout behaviour: {flips:.1%} of frozen-holdout "
        f"predictions flip vs the champion ({'<=' if flips_ok else '>'} max "
        f"{policy.max_holdout_flip_rate:.1%})",
    ], drop_ok and flips_ok


def label_guard_evaluate(
    *,
    new_rows: int,
    new_positives: int,
    base_rows: int,
    base_positives: int,
    holdout_auc_drop: float | None,
    holdout_flip_rate: float | None,
    policy: LabelGuardPolicy,
) -> LabelGuardVerdict:
    """Judge a candidate trained on labelled inference rows: label balance and holdout behaviour."""
    if new_rows <= 0 or base_rows <= 0:
        raise ValueError("a label-driven candidate needs new rows and base rows")
    share, base = new_positives / new_rows, base_positives / base_rows
    balance, balance_ok = _balance_reason(share, base, new_rows, policy.max_balance_shift)
    holdout, holdout_ok = _holdout_reasons(holdout_auc_drop, holdout_flip_rate, policy)
    return LabelGuardVerdict(
        passed=balance_ok and holdout_ok,
        reasons=(balance, *holdout),
        policy=policy,
        new_rows=new_rows,
        new_positive_share=share,
        base_positive_share=base,
        holdout_auc_drop=holdout_auc_drop,
        holdout_flip_rate=holdout_flip_rate,
    )


def holdout_rows_split(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """Feature dicts (for a scorer) and labels of stored holdout rows."""
    features = [{name: row[name] for name in FEATURES} for row in rows]
    return features, [int(row[LABEL.name]) for row in rows]
