"""The frozen holdout with real Spark and a real MLflow store: frozen, never trained on, scored."""

import csv
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from mlflow import MlflowClient

from apps.training.holdout import row_key
from apps.training.models import DataVersion, ModelVersion, ReferenceHoldout
from apps.training.services import training_jobs
from apps.training.services.data_versions import data_version_bytes, data_version_ingest
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request

pytestmark = [pytest.mark.spark, pytest.mark.django_db]


def _outcomes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record each job's outcome on its way to the real registration (a spy, not a mock)."""
    seen: list[Any] = []
    real = training_jobs.model_version_register

    def spy(*, run: Any, outcome: Any) -> Any:
        seen.append(outcome)
        return real(run=run, outcome=outcome)

    monkeypatch.setattr(training_jobs, "model_version_register", spy)
    return seen


def _append(base: bytes, rows: list[dict[str, Any]]) -> bytes:
    """The base CSV with `rows` appended, as the drift retrain builds its data versions."""
    table = list(csv.reader(io.StringIO(base.decode())))
    header = table[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(table)
    for row in rows:
        writer.writerow(["" if row.get(name) is None else str(row[name]) for name in header])
    return out.getvalue().encode()


def test_it_never_trains_a_later_version_on_a_holdout_row(
    spark: Any,
    ingested: DataVersion,
    mlflow_store: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    admin_client: Client,
) -> None:
    settings.AUTO_PROMOTE_TITANIC = True
    outcomes = _outcomes(monkeypatch)
    first = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert first.status == "succeeded", first.error
    holdout = ReferenceHoldout.objects.get(is_active=True)
    # Frozen from the first version's fixed evaluation split: the same rows, keyed by content.
    assert (holdout.data_version_id, holdout.origin) == (ingested.pk, "first_version")
    v1_eval = [
        {**row, "Survived": label}
        for row, label in zip(
            outcomes[0].evaluation_rows, outcomes[0].evaluation_labels, strict=True
        )
    ]
    assert holdout.n_rows == len(v1_eval) and holdout.row_keys == [row_key(r) for r in v1_eval]
    # On its own data version the fixed split is the separation: every other row is trained on
    # (some are different passengers with the same features and label as a holdout row).
    assert outcomes[0].holdout_rows_excluded == 0
    assert len(outcomes[0].training_row_keys) + holdout.n_rows == ingested.rows
    assert outcomes[0].training_rows_count == len(outcomes[0].training_row_keys)

    # Data v2: v1 plus labelled rows, 40 of them copies of holdout rows (what a retrain may append).
    copies = holdout.rows[:40]
    others = [
        {**row, "Survived": 1 - row["Survived"], "Age": 30.5, "Fare": 12.345} for row in copies
    ]
    v2 = data_version_ingest(
        data=_append(data_version_bytes(ingested), [*copies, *others]),
        source="test: v1 + 80 labelled rows",
        parent=ingested,
        labelled_rows_added=80,
    ).data_version
    second = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert second.status == "succeeded", second.error
    assert second.data_version_id == v2.pk
    trained = set(outcomes[1].training_row_keys)
    assert trained, "the job reported no training rows"
    assert not trained & set(holdout.row_keys)  # the row sets are disjoint
    assert {row_key(row) for row in others} & trained  # appended rows do reach training
    assert outcomes[1].holdout_rows_excluded >= 40
    parent = MlflowClient(mlflow_store).get_run(second.mlflow_parent_run_id)
    assert int(parent.data.params["holdout_rows_excluded"]) == outcomes[1].holdout_rows_excluded

    # Both versions are scored on the same frozen rows and say which rows.
    versions = {m.version: m for m in ModelVersion.objects.all()}
    for number in (1, 2):
        evaluation = versions[number].holdout_evaluation
        assert versions[number].holdout_id == holdout.pk
        assert evaluation["n_rows"] == holdout.n_rows
        label = f"frozen holdout: {holdout.n_rows} rows from data v{holdout.data_version_id}"
        assert evaluation["rows_label"] == label
        assert 0.7 < evaluation["auc"] <= 1.0
    assert versions[2].holdout_evaluation["training_rows_excluded"] >= 40
    evidence = versions[2].gate_evidence
    assert evidence["holdout"]["n_rows"] == holdout.n_rows
    assert evidence["holdout"]["candidate_auc"] == pytest.approx(
        versions[2].holdout_evaluation["auc"]
    )
    assert evidence["label_guard"]["new_rows"] == 80
    assert any("frozen holdout" in reason for reason in evidence["reasons"])

    page = admin_client.get(reverse("dashboard:models")).content.decode()
    assert f"frozen holdout: {holdout.n_rows} rows from data v{holdout.data_version_id}" in page
    for number in (1, 2):
        assert f"{versions[number].holdout_evaluation['auc']:.4f}" in page

    # An operator re-designating data v1 gets the very same rows (the same fixed split).
    call_command("holdout_set", str(ingested.pk), "--user", "olga", stdout=io.StringIO())
    designated = ReferenceHoldout.objects.get(is_active=True)
    assert (designated.origin, designated.designated_by) == ("operator", "olga")
    assert sorted(designated.row_keys) == sorted(holdout.row_keys)
    assert ReferenceHoldout.objects.count() == 2
