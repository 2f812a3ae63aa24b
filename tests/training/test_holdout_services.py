"""Holdout services and selectors on the database: which rows a job skips, the label guard."""

from typing import Any

import pytest

from apps.training.gate import gate_holdout_evaluate
from apps.training.selectors.holdouts import holdout_rows_to_exclude, reference_holdout_active
from apps.training.services.holdouts import label_guard_judge, reference_holdout_freeze
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

ROWS = [
    {"Pclass": 3, "Sex": "male", "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25},
    {"Pclass": 1, "Sex": "female", "Age": 38.0, "SibSp": 1, "Parch": 0, "Fare": 71.2833},
]


def _rows() -> list[dict[str, Any]]:
    return [{**row, "Embarked": "S", "Survived": i} for i, row in enumerate(ROWS)]


def test_it_excludes_holdout_rows_only_from_other_data_versions() -> None:
    v1 = f.data_version_create("1" * 32)
    v2 = f.data_version_create("2" * 32, parent=v1, labelled_rows_added=10)
    assert holdout_rows_to_exclude(data_version=v2) == []  # no holdout yet
    holdout = reference_holdout_freeze(data_version=v1, rows=_rows())
    assert reference_holdout_active() == holdout
    assert holdout_rows_to_exclude(data_version=v1) == []  # its own split keeps them out
    assert holdout_rows_to_exclude(data_version=v2) == holdout.rows


def test_it_guards_only_label_driven_versions_against_their_parent(settings: Any) -> None:
    settings.LABEL_GUARD_MAX_BALANCE_SHIFT = 0.15
    base = f.data_version_create("1" * 32, rows=891, positives=342)
    extended = f.data_version_create(
        "2" * 32, parent=base, rows=1191, positives=342 + 190, labelled_rows_added=300
    )
    verdict = gate_holdout_evaluate(
        y_true=[0, 1], candidate_scores=[0.4, 0.6], champion_scores=[0.3, 0.7], max_auc_drop=0.02
    )
    args = {"holdout_verdict": verdict, "candidate_scores": [0.4, 0.6]}
    assert label_guard_judge(data_version=base, champion_scores=[0.3, 0.7], **args) is None
    guard = label_guard_judge(data_version=extended, champion_scores=[0.3, 0.7], **args)
    assert guard is not None and not guard.passed
    assert guard.new_positive_share == pytest.approx(190 / 300)
    assert guard.holdout_flip_rate == 0.0 and guard.holdout_auc_drop == 0.0
    assert guard.reasons[0].startswith("FAIL label balance: the 300 new labelled rows are 63.3%")
