"""Login abuse (issue 14): repeated failures lock a user out for that client on both login pages,
until the cool-off ends or an administrator clears the lock-out."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"
PAGES = ["dashboard:login", "admin:login"]


@pytest.fixture(autouse=True)
def no_lockouts(db: Any) -> Iterator[None]:
    """Every test starts and ends without recorded failures (axes keeps them in the database)."""
    axes_reset()
    yield
    axes_reset()


@pytest.fixture
def ops(db: Any) -> User:
    return User.objects.create_user("ops", password=PASSWORD, is_staff=True, is_superuser=True)


def _login(client: Client, page: str, password: str) -> Any:
    return client.post(reverse(page), {"username": "ops", "password": password})


def _signed_in(client: Client) -> bool:
    return client.get(reverse("dashboard:overview")).status_code == 200


def _lock_out(client: Client, page: str) -> list[int]:
    return [_login(client, page, "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


@pytest.mark.parametrize("page", PAGES)
def test_it_locks_out_a_user_for_that_client(ops: User, page: str) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    codes = _lock_out(attacker, page)
    assert codes[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again, an error
    assert codes[-1] == 429
    refused = _login(attacker, page, PASSWORD)
    assert refused.status_code == 429 and not _signed_in(attacker)
    other = Client(REMOTE_ADDR="198.51.100.2")
    assert _login(other, page, PASSWORD).status_code == 302 and _signed_in(other)


@pytest.mark.parametrize("page", PAGES)
def test_it_lets_the_user_in_after_an_admin_clears_the_lock_out(ops: User, page: str) -> None:
    client = Client(REMOTE_ADDR="203.0.113.8")
    _lock_out(client, page)
    assert _login(client, page, PASSWORD).status_code == 429
    call_command("axes_reset", verbosity=0)
    assert _login(client, page, PASSWORD).status_code == 302 and _signed_in(client)


def test_it_lets_the_user_in_when_the_cool_off_ends(ops: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    _lock_out(client, "dashboard:login")
    assert _login(client, "dashboard:login", PASSWORD).status_code == 429
    # The clock, not a sleep: the recorded failures are moved past the cool-off.
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert _login(client, "dashboard:login", PASSWORD).status_code == 302 and _signed_in(client)


def test_it_locks_a_client_that_tries_many_users(ops: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.10")
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("dashboard:login"), {"username": f"guess{i}", "password": "x"})
    assert _login(client, "dashboard:login", PASSWORD).status_code == 429


def test_it_shows_lock_outs_in_the_admin_and_leaves_tokens_alone(ops: User) -> None:
    _lock_out(Client(REMOTE_ADDR="203.0.113.11"), "admin:login")
    admin = Client()
    admin.force_login(ops)
    page = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert page.status_code == 200 and b"203.0.113.11" in page.content
    api = APIClient(REMOTE_ADDR="203.0.113.11")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ops).key}")
    assert api.get("/api/training-runs/999").status_code == 404  # authenticated, not locked out


def test_it_lets_an_admin_clear_a_lock_out_in_the_admin(ops: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.12")
    _lock_out(client, "dashboard:login")
    assert _login(client, "dashboard:login", PASSWORD).status_code == 429
    admin = Client(REMOTE_ADDR="198.51.100.3")
    admin.force_login(ops)
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302 and not AccessAttempt.objects.exists()
    assert _login(client, "dashboard:login", PASSWORD).status_code == 302
