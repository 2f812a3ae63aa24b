"""Numbers are shown rounded, and each logged request shows its id."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.serving.models import InferenceLog
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def test_it_rounds_ages_and_shows_request_ids_in_the_traffic_table(viewer_client: Client) -> None:
    request_id = uuid.uuid4()
    InferenceLog.objects.create(
        request_id=request_id,
        created_at=timezone.now(),
        model_version=1,
        pclass=3,
        sex="male",
        age=26.55868602910215,
        sibsp=0,
        parch=0,
        fare=7.25,
        embarked="S",
        prob_survive=0.1,
        label=0,
        latency_ms=1.0,
    )
    body = viewer_client.get(reverse("dashboard:traffic")).content.decode()
    assert "26.56" in body and "26.5586" not in body
    assert f'title="{request_id}"' in body and str(request_id)[:8] in body


def test_it_rounds_the_data_summary(viewer_client: Client) -> None:
    fare = {"missing": 0, "count": 3, "min": 0.0, "median": 16.487499999999997, "max": 512.3292}
    summary = {"Fare": {**fare, "mean": 20.1}}
    data = f.data_version_create(summary=summary)
    body = viewer_client.get(reverse("dashboard:data-version", args=[data.pk])).content.decode()
    assert "median 16.49" in body and "16.4874" not in body
