"""A running job shows what it does now and for how long, on the pages and in the poll."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def test_it_polls_the_phase_beside_the_progress(viewer_client: Client) -> None:
    f.run_create(status="running", phase="searching gbt: point 1/2")  # started 70 s ago
    payload = viewer_client.get(reverse("dashboard:run-progress")).json()
    assert payload["phase"]["phase"] == "searching gbt: point 1/2"
    assert 70 <= payload["phase"]["elapsed_seconds"] < 90
    page = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert "searching gbt: point 1/2" in page and " s elapsed" in page
