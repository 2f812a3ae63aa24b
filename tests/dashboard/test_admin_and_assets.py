"""The Django admin keeps raw records (read-only, with filters) and django-q2's tasks; plotly.js
is served from the installed plotly package, offline."""

from typing import Any

import pytest
from django.test import Client

from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

ADMIN_LISTS = [
    "/admin/training/dataversion/",
    "/admin/training/trainingrun/",
    "/admin/training/modelversion/",
    "/admin/training/promotionrequest/",
    "/admin/training/promotionevent/",
    "/admin/serving/inferencelog/",
    "/admin/monitoring/driftreport/",
    "/admin/monitoring/driftbaseline/",
    "/admin/monitoring/noisefloor/",
    "/admin/django_q/schedule/",
    "/admin/django_q/success/",
    "/admin/django_q/failure/",
    "/admin/django_q/ormq/",
]


@pytest.mark.parametrize("url", ADMIN_LISTS)
def test_it_lists_raw_records_in_the_admin(admin_client: Client, url: str) -> None:
    f.model_version_create(1)
    f.inference_rows(3)
    f.drift_report_create(psi={"Sex": 0.1})
    assert admin_client.get(url).status_code == 200


def test_it_filters_in_the_admin(admin_client: Client) -> None:
    f.run_create(status="failed")
    f.run_create()
    page = admin_client.get("/admin/training/trainingrun/", {"status__exact": "failed"})
    assert page.status_code == 200 and page.context["cl"].result_count == 1


def test_it_keeps_admin_records_read_only(admin_client: Client) -> None:
    version = f.model_version_create(1)
    assert admin_client.get("/admin/training/modelversion/add/").status_code == 403
    page = admin_client.get(f"/admin/training/modelversion/{version.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = admin_client.post(
        f"/admin/training/modelversion/{version.pk}/change/", {"status": "rejected"}
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.status == "champion"


def test_it_serves_plotly_js_from_the_package(client: Client) -> None:
    response = client.get("/assets/plotly.min.js?v=7.1.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]
    head = b"".join(response.streaming_content)[:2000]
    assert b"plotly.js" in head


def test_it_needs_no_network_for_pages(admin_client: Any) -> None:
    """Pages reference only this server: no CDN script or stylesheet."""
    f.run_create()
    for url in ("/", "/runs/1/", "/drift/", "/models/"):
        body = admin_client.get(url).content.decode()
        assert "://cdn" not in body and "unpkg" not in body and "jsdelivr" not in body, url
