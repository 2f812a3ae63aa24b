"""Labels carry who gave them, how and when; a label-driven data version lists its sources."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.monitoring.services.retraining import UNKNOWN_LABELLER, labelled_data_version_create
from apps.serving.models import InferenceLog, LabelProvenance
from apps.training.contract import parse_dataset
from apps.training.models import DataVersion
from tests.factories import inference_rows_log, user_in_role

pytestmark = pytest.mark.django_db


def _log(passengers: list[dict[str, Any]]) -> list[str]:
    return [str(row.request_id) for row in inference_rows_log(passengers)]


def _label(client: Client, request_ids: list[str], survived: int) -> None:
    for request_id in request_ids:
        body = {"request_id": request_id, "Survived": survived}
        answer = client.post("/feedback", body, content_type="application/json")
        assert answer.status_code == 200, answer.content


def test_it_records_who_labelled_through_which_channel_and_lists_the_sources(
    ingested: DataVersion, titanic_bytes: bytes
) -> None:
    passengers = parse_dataset(titanic_bytes).rows[:40]
    mallory = user_in_role("mallory", "labeller")
    token = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=mallory).key}")
    session = Client()
    session.force_login(user_in_role("lena", "labeller"))
    by_token, by_session, legacy = (
        _log(passengers[:30]),
        _log(passengers[30:36]),
        _log(passengers[36:]),
    )
    _label(token, by_token, survived=1)  # all "survived": far from the base data's 38%
    _label(session, by_session[:3], survived=1)
    _label(session, by_session[3:], survived=0)
    InferenceLog.objects.filter(request_id__in=legacy).update(true_label=0)  # pre-provenance rows

    given = LabelProvenance.objects.get(inference__request_id=by_token[0])
    assert (given.labelled_by, given.labelled_by_name, given.labelled_via) == (
        mallory,
        "mallory",
        "token",
    )
    assert given.labelled_at == given.inference.labelled_at
    assert (
        LabelProvenance.objects.get(inference__request_id=by_session[0]).labelled_via == "session"
    )
    assert not LabelProvenance.objects.filter(inference__request_id__in=legacy).exists()

    extended, added = labelled_data_version_create(note="test")
    assert added == 40
    base_rate = round(ingested.positives / ingested.rows, 4)
    assert [
        (s["labeller"], s["via"], s["rows"], s["positives"], s["positive_rate"])
        for s in extended.sources
    ] == [
        ("mallory", "token", 30, 30, 1.0),
        ("lena", "session", 6, 3, 0.5),
        (UNKNOWN_LABELLER, "", 4, 0, 0.0),
    ]
    first = extended.sources[0]
    assert first["base_positive_rate"] == base_rate
    assert first["positive_rate_delta"] == round(1.0 - base_rate, 4)
    assert first["first_labelled_at"] <= first["last_labelled_at"]
    assert DataVersion.objects.get(pk=extended.pk).sources == extended.sources  # stored


def test_it_shows_where_the_rows_came_from_on_the_data_pages(
    ingested: DataVersion, titanic_bytes: bytes
) -> None:
    passengers = parse_dataset(titanic_bytes).rows[:5]
    labeller = user_in_role("mallory", "labeller")
    client = Client()
    client.force_login(labeller)
    _label(client, _log(passengers), survived=1)
    extended, _ = labelled_data_version_create(note="test")
    viewer = Client()
    viewer.force_login(user_in_role("viola", "viewer"))
    line = "5 labelled rows from mallory via session: 100.0% survived vs 38.4% in the base data"
    detail = viewer.get(f"/data/{extended.pk}/").content.decode()
    assert line in detail
    assert "← " + line in detail  # the origin node of the lineage
    assert line in viewer.get("/data/").content.decode()
