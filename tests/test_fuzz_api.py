"""Schema-driven fuzzing of the whole API (issue 14): every operation in /api/schema/, as an
anonymous client, a labeller (plain authenticated user) and an operator (staff), through the real
WSGI application in-process. Fixed seed, bounded examples; any 5xx or an answer that does not
match its documented schema (body, content type or an undocumented status code) fails the test.
The labeller is a plain authenticated user: no label permission exists yet.

Training-starting operations only queue: django-q2 runs async with the ORM broker and no worker
is started here, so a queued run is a database row and Spark never starts. The DVC repository
and the MLflow store are the test's own (fixtures), so uploads and /reload touch nothing else.
"""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.serving.loader import champion_cache
from tests.factories import model_version_install, user_in_role

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]
ROLES = ("anonymous", "labeller", "operator")
EXAMPLES = 40  # per operation, each sent as every role


@pytest.fixture
def same_connection() -> Iterator[None]:
    """Keep the test's database connection across in-process WSGI requests (as Django's test
    client does): the request signals would otherwise close it and its open transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_schema(
    db: Any,
    same_connection: None,
    dvc_repo: Path,
    mlflow_store: str,
    settings: Any,
    tmp_path: Path,
) -> Any:
    assert not settings.Q_CLUSTER.get("sync"), "a queued training run would start Spark here"
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.SERVING_VERSION_CHECK_SECONDS = 0.0
    champion_cache.reset()
    model_version_install(1)  # a champion, so predictions reach the scorer and the log
    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def roles(db: Any, fuzz_schema: Any) -> dict[str, dict[str, str]]:
    """Request headers of each role; every generated case is sent once as each of them."""
    found: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in ROLES[1:]:
        user = user_in_role(role, role)  # the role's group: its permissions, nothing more
        found[role] = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    return found


def test_it_answers_every_operation_within_its_schema(
    fuzz_schema: Any, roles: dict[str, dict[str, str]]
) -> None:
    failures: dict[str, str] = {}
    answered: Counter[int] = Counter()
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) >= 8, "the schema lost operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @seed(14)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            for headers in roles.values():
                answered[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1

        try:
            fuzz()
        except Exception as exc:
            failures[operation.label] = str(exc)[:3000]
    print(f"fuzzed {len(operations)} operations: {dict(sorted(answered.items()))}")
    assert failures == {}
    # Real traffic reached the views: accepted, refused and unauthorised answers all occurred.
    assert answered[200] > 0 and answered[400] > 0 and answered[401] + answered[403] > 0
