"""Who may do what, at every door: every URL pattern x method x role against an explicit table.

The patterns come from the URLconf itself, so a new URL without a row here fails the test with
its pattern named. Each cell is the status code one subject gets: 302 from a dashboard page means
"go and log in" (the redirect's target is checked too), 401/403 means refused, anything else means
the request got past authorization (400/404/405/409/503 are the view's own answers).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from apps.serving.loader import champion_cache
from tests.factories import SEED_EXAMPLE, model_version_install, user_in_role

pytestmark = pytest.mark.django_db

SUBJECTS = ("anonymous", "viewer", "labeller", "operator", "approver", "superuser")
METHODS = ("GET", "POST")
# The admin is Django's own (staff + model permissions); its index and login stand for it.
ADMIN_CHECKED = {"admin/", "admin/login/"}

# pattern -> method -> codes for (anonymous, viewer, labeller, operator, approver, superuser).
# L = 302 to a login page (anonymous on a dashboard page or the admin).
L = 302
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "admin/": {"GET": (L, L, L, L, L, 200), "POST": (L, L, L, L, L, 200)},
    "admin/login/": {"GET": (200, 200, 200, 200, 200, 302), "POST": (200,) * 6},
    # Public: scoring is anonymous and throttled; /health is for load balancers.
    "predict_titanic": {"GET": (405,) * 6, "POST": (400,) * 6},
    "predict_titanic/batch": {"GET": (405,) * 6, "POST": (400,) * 6},
    "health": {"GET": (200,) * 6, "POST": (405,) * 6},
    "health/live": {"GET": (200,) * 6, "POST": (405,) * 6},
    "health/ready": {"GET": (200,) * 6, "POST": (405,) * 6},
    # Labels: only the label permission.
    "feedback": {"GET": (403, 403, 405, 403, 403, 405), "POST": (403, 403, 400, 403, 403, 400)},
    # Operator actions.
    "reload": {"GET": (403, 403, 403, 405, 403, 405), "POST": (403, 403, 403, 200, 403, 200)},
    "api/data-versions": {
        "GET": (403, 403, 403, 405, 403, 405),
        "POST": (403, 403, 403, 415, 403, 415),  # 415: a JSON body, not the CSV it wants
    },
    "api/training-runs": {
        "GET": (403, 403, 403, 405, 403, 405),
        "POST": (403, 403, 403, 409, 403, 409),  # 409: a run is already active
    },
    "api/training-runs/<int:pk>": {
        "GET": (403, 200, 200, 200, 200, 200),
        "POST": (403, 405, 405, 405, 405, 405),
    },
    # The API's description: any signed-in account (it holds no data).
    "api/schema/": {"GET": (200,) * 6, "POST": (405,) * 6},
    "api/docs/": {"GET": (200,) * 6, "POST": (405,) * 6},
    # Dashboard pages: the view permission (every role), anonymous goes to the login page.
    "": {"GET": (L, 200, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "accounts/login/": {
        "GET": (200, 302, 302, 302, 302, 302),
        "POST": (200, 302, 302, 302, 302, 302),
    },
    "accounts/logout/": {"GET": (405,) * 6, "POST": (L,) * 6},
    "runs/": {"GET": (L, 200, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "runs/active.json": {
        "GET": (L, 200, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    "runs/retrain/": {"GET": (L, 405, 405, 405, 405, 405), "POST": (L, 403, 403, 302, 403, 302)},
    "runs/<int:run_id>/": {
        "GET": (L, 200, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    "models/": {"GET": (L, 200, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "models/<int:version>/approve/": {
        "GET": (L, 405, 405, 405, 405, 405),
        "POST": (L, 403, 403, 403, 302, 302),
    },
    "models/<int:version>/reject/": {
        "GET": (L, 405, 405, 405, 405, 405),
        "POST": (L, 403, 403, 403, 302, 302),
    },
    "models/rollback/": {
        "GET": (L, 403, 403, 403, 200, 200),
        "POST": (L, 403, 403, 403, 302, 302),
    },
    "drift/": {"GET": (L, 200, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "drift/incidents/<int:incident_id>/": {
        "GET": (L, 404, 404, 404, 404, 404),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    # Without a note the form answers with a redirect back: past authorization.
    "drift/incidents/<int:incident_id>/acknowledge/": {
        "GET": (L, 405, 405, 405, 405, 405),
        "POST": (L, 403, 403, 302, 403, 302),
    },
    "models/<int:version>/": {
        "GET": (L, 200, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    "overview/charts.json": {
        "GET": (L, 200, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    "drift/<int:report_id>/": {
        "GET": (L, 404, 404, 404, 404, 404),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    # Sensitive reads: the traffic rows and their CSV export.
    "traffic/": {"GET": (L, 403, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "traffic/export.csv": {
        "GET": (L, 403, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    "data/": {"GET": (L, 200, 200, 200, 200, 200), "POST": (L, 405, 405, 405, 405, 405)},
    "data/<int:data_version_id>/": {
        "GET": (L, 200, 200, 200, 200, 200),
        "POST": (L, 405, 405, 405, 405, 405),
    },
    # A static asset (the charting library), public like any static file.
    "assets/plotly.min.js": {"GET": (200,) * 6, "POST": (405,) * 6},
}


def url_patterns() -> Iterator[tuple[str, URLPattern]]:
    """Every (route, pattern) of the URLconf; of the admin only its index and login."""

    def walk(resolvers: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in resolvers:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    yield from (
                        (prefix + str(entry.pattern) + str(p.pattern), p)
                        for p in entry.url_patterns
                        if isinstance(p, URLPattern) and p.name in ("index", "login")
                    )
                    continue
                yield from walk(entry.url_patterns, route)
            else:
                yield route, entry

    yield from walk(get_resolver().url_patterns, "")


def concrete(route: str, ids: dict[str, int]) -> str:
    """The route with each `<int:name>` replaced by an id that exists in the test's data."""
    path = route
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value))
    assert "<" not in path, f"no sample value for a converter in {route!r}"
    return "/" + path


def is_drf(pattern: URLPattern) -> bool:
    return hasattr(pattern.callback, "cls")


@pytest.fixture
def world(dvc_repo: Path, mlflow_store: str, settings: Any) -> Iterator[dict]:
    """A champion (v1), a running training run, one account per role and a superuser."""
    from tests.dashboard import factories as f

    settings.SERVING_VERSION_CHECK_SECONDS = 0.0
    champion_cache.reset()
    champion = model_version_install(1)
    run = f.run_create(status="running", data=champion.data_version)  # a second one is a 409
    users = {role: user_in_role(role, role) for role in SUBJECTS[1:-1]}
    users["superuser"] = get_user_model().objects.create_superuser("root", "r@example.com", "x")
    yield {
        "users": users,
        "ids": {
            "pk": run.pk,
            "run_id": run.pk,
            "version": 1,
            "report_id": 999,
            "incident_id": 999,
            "data_version_id": champion.data_version_id,
        },
    }
    champion_cache.reset()


def _client(subject: str, world: dict, *, token: bool = False) -> Client:
    client = Client()
    if subject == "anonymous":
        return client
    user = world["users"][subject]
    if token:
        key = Token.objects.get_or_create(user=user)[0].key
        return Client(HTTP_AUTHORIZATION=f"Token {key}")
    client.force_login(user)
    return client


def _call(client: Client, method: str, path: str) -> tuple[int, str]:
    if method == "GET":
        response = client.get(path)
    else:  # an empty JSON object: enough to reach the view, never enough to change anything
        response = client.post(path, "{}", content_type="application/json")
    return response.status_code, response.get("Location", "")


def test_it_has_an_entry_for_every_url_pattern() -> None:
    routes = {route for route, _ in url_patterns()}
    missing = sorted(routes - EXPECTED.keys())
    assert not missing, (
        "URL patterns without an entry in tests/test_authorization_matrix.py EXPECTED "
        f"(add who may call them, per method): {missing}"
    )
    stale = sorted(EXPECTED.keys() - routes)
    assert not stale, f"EXPECTED rows for patterns that no longer exist: {stale}"


def test_it_answers_every_pattern_method_and_role_as_the_table_says(world: dict) -> None:
    wrong = []
    for route, pattern in url_patterns():
        if route not in EXPECTED:
            continue  # reported by the test above, by name
        path = concrete(route, world["ids"])
        for method in METHODS:
            expected = EXPECTED[route][method]
            for subject, want in zip(SUBJECTS, expected, strict=True):
                clients = [("session", _client(subject, world))]
                if is_drf(pattern) and subject != "anonymous":
                    clients.append(("token", _client(subject, world, token=True)))
                for how, client in clients:
                    code, location = _call(client, method, path)
                    if code != want:
                        wrong.append(f"{method} {path} as {subject} ({how}): {code}, want {want}")
                    elif code == L and subject == "anonymous" and "login" not in location:
                        wrong.append(f"{method} {path} as anonymous: redirect to {location}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/data-versions", b"PassengerId\n"),
        ("post", "/api/training-runs", b"{}"),
        ("post", "/reload", b""),
    ],
)
def test_it_refuses_a_staff_account_without_permissions(
    dvc_repo: Path, method: str, path: str, body: bytes
) -> None:
    staff = user_in_role("staff-only", None, is_staff=True)
    for client in (
        Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}"),
        Client(),
    ):
        if "HTTP_AUTHORIZATION" not in client.defaults:
            client.force_login(staff)
        response = getattr(client, method)(path, body, content_type="application/json")
        assert response.status_code == 403, (path, response.content)


def test_it_lets_only_labellers_label(world: dict) -> None:
    from apps.serving.models import InferenceLog, LabelProvenance

    answer = Client().post("/predict_titanic", SEED_EXAMPLE, content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = {"request_id": answer.json()["request_id"], "Survived": 0}
    plain = user_in_role("plain", None)
    for subject in ("viewer", "operator", "approver"):
        refused = _client(subject, world, token=True).post(
            "/feedback", body, content_type="application/json"
        )
        assert refused.status_code == 403
    key = Token.objects.create(user=plain).key
    refused = Client(HTTP_AUTHORIZATION=f"Token {key}").post(
        "/feedback", body, content_type="application/json"
    )
    assert refused.status_code == 403
    assert InferenceLog.objects.get().true_label is None
    given = _client("labeller", world, token=True).post(
        "/feedback", body, content_type="application/json"
    )
    assert given.status_code == 200
    row = InferenceLog.objects.get()
    given = LabelProvenance.objects.get(inference=row)
    assert (row.true_label, given.labelled_by_name, given.labelled_via) == (0, "labeller", "token")
    assert given.labelled_by == world["users"]["labeller"] and given.labelled_at == row.labelled_at
