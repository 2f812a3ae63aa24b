"""In-process helpers for serve_load, run as `python -m bench._serve_probe {setup,measure}`.

They run in their own interpreter with DATABASE_URL and TITANIC_VAR_DIR already set, so the
load generator itself never imports Django. `setup` installs a champion and the floor's table;
`measure` times a prediction, its parts and the floor's view, and prints JSON on stdout.
"""

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.request import Request  # noqa: E402

from apps.serving.api import PredictThrottle, PredictView  # noqa: E402
from apps.serving.loader import champion_cache  # noqa: E402
from apps.serving.models import InferenceLog  # noqa: E402
from apps.serving.serializers import (  # noqa: E402
    PassengerSerializer,
    PredictionOutputSerializer,
)
from apps.serving.services import prediction_create  # noqa: E402
from bench._floor_view import FLOOR_TABLE, FloorView  # noqa: E402
from bench._floor_view import PassengerSerializer as PlainSerializer  # noqa: E402
from tests.factories import SEED_EXAMPLE, model_version_install  # noqa: E402

RAW_INSERT = (
    "INSERT INTO serving_inferencelog (request_id, created_at, model_version, pclass, sex, age, "
    "sibsp, parch, fare, embarked, prob_survive, label, latency_ms) "
    "VALUES (%s, %s, 1, 3, 'male', 22.0, 1, 0, 7.25, 'S', 0.2, 0, 1.0) RETURNING id"
)
BODY = json.dumps(SEED_EXAMPLE)
THROTTLE_TABLE = "bench_throttle"
# What-if for the throttle: one UPSERT into an UNLOGGED table, whose commit skips the WAL flush
# (a crash only resets the counters, which a rate limit can afford).
THROTTLE_UPSERT = (
    f"INSERT INTO {THROTTLE_TABLE} (key, hits) VALUES (%s, 1) "  # noqa: S608 (constant names)
    f"ON CONFLICT (key) DO UPDATE SET hits = {THROTTLE_TABLE}.hits + 1 RETURNING hits"
)


class SharedFieldsSerializer(PassengerSerializer):
    """What-if: bind the declared fields once per class, not deep-copied for every request."""

    _shared: ClassVar[Any] = None

    @property
    def fields(self) -> Any:  # type: ignore[override]
        cls = type(self)
        if cls._shared is None:
            cls._shared = PassengerSerializer.fields.func(self)  # DRF's deep copy, done once
        return cls._shared


def setup() -> dict[str, Any]:
    """A champion (real scorer file, no Spark) and the floor's copy of the log table."""
    version = model_version_install(1)
    with connection.cursor() as cursor:
        # Same columns, identity, defaults and indexes as the real log: equal index upkeep.
        cursor.execute(f"CREATE TABLE {FLOOR_TABLE} (LIKE serving_inferencelog INCLUDING ALL)")
        cursor.execute(f"CREATE UNLOGGED TABLE {THROTTLE_TABLE} (key text PRIMARY KEY, hits int)")
    return {"champion_version": version.version, "floor_table": FLOOR_TABLE}


def interleaved(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall and CPU microseconds per call; the calls alternate so swings hit all alike."""
    for call in calls.values():
        for _ in range(min(20, repeats)):
            call()
    wall: dict[str, list[int]] = {name: [] for name in calls}
    cpu: dict[str, list[int]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
            call()
            cpu[name].append(time.process_time_ns() - cpu_started)
            wall[name].append(time.perf_counter_ns() - started)
    found = {}
    for name in calls:
        found[f"{name}_us"] = statistics.median(wall[name]) / 1000
        found[f"{name}_cpu_us"] = statistics.median(cpu[name]) / 1000
    return found


def _log_row() -> InferenceLog:
    return InferenceLog(
        request_id=uuid.uuid4(),
        model_version=1,
        pclass=3,
        sex="male",
        age=22.0,
        sibsp=1,
        parch=0,
        fare=7.25,
        embarked="S",
        prob_survive=0.2,
        label=0,
        latency_ms=1.0,
    )


def _insert_atomic() -> None:
    with transaction.atomic():  # BEGIN + INSERT + COMMIT: three round trips instead of one
        _log_row().save(force_insert=True)


def _insert_raw() -> None:
    with connection.cursor() as cursor:  # what the floor endpoint does: no ORM, autocommit
        cursor.execute(RAW_INSERT, [str(uuid.uuid4()), timezone.now()])


def _post(client: Client) -> int:
    response = client.post(
        "/predict_titanic",
        data=BODY,
        content_type="application/json",
        HTTP_X_REQUEST_ID=str(uuid.uuid4()),
    )
    return response.status_code


def _view_call(view: Callable[..., Any]) -> Callable[[], int]:
    """Call a view on a fresh request, skipping URL resolution and middleware; render it."""
    factory = RequestFactory(HTTP_HOST="127.0.0.1")

    def call() -> int:
        request = factory.post(
            "/predict_titanic",
            data=BODY,
            content_type="application/json",
            HTTP_X_REQUEST_ID=str(uuid.uuid4()),
        )
        response = view(request)
        response.render()
        return response.status_code

    return call


def _captured(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert _post(client) == 200
    return [query["sql"][:160] for query in captured.captured_queries]


def _requests(repeats: int) -> dict[str, float]:
    """Whole requests: the project's handler with and without middleware; the bare views."""
    client = Client(HTTP_HOST="127.0.0.1")
    with override_settings(MIDDLEWARE=[]):
        bare = Client(HTTP_HOST="127.0.0.1")
        assert _post(bare) == 200  # its handler loads the (empty) middleware list now, once
    predict, floor = _view_call(PredictView.as_view()), _view_call(FloorView.as_view())
    assert _post(client) == predict() == floor() == 200
    calls = {
        "request_full": lambda: _post(client),
        "request_no_middleware": lambda: _post(bare),
        "view_predict": predict,
        "view_floor": floor,
    }
    return interleaved(calls, repeats)


def _without_variants() -> dict[str, list[str]]:
    """Middleware lists each missing one entry; sessions go with the two that need them."""
    short = {dotted: dotted.rsplit(".", 1)[-1] for dotted in settings.MIDDLEWARE}
    tied = {"SessionMiddleware", "AuthenticationMiddleware", "MessageMiddleware"}
    variants = {
        name: [m for m in settings.MIDDLEWARE if m != dotted]
        for dotted, name in short.items()
        if name != "SessionMiddleware"
    }
    variants["Session+Auth+Message"] = [m for m in settings.MIDDLEWARE if short[m] not in tied]
    variants["all"] = []
    return variants


def _middleware_costs(repeats: int) -> dict[str, float]:
    """CPU microseconds middleware adds: the full stack minus the stack without it."""
    full = Client(HTTP_HOST="127.0.0.1")
    calls: dict[str, Callable[[], Any]] = {"full": lambda: _post(full)}
    for name, middleware in _without_variants().items():
        with override_settings(MIDDLEWARE=middleware):
            client = Client(HTTP_HOST="127.0.0.1")
            assert _post(client) == 200  # builds this client's middleware chain, once
        calls[name] = lambda c=client: _post(c)
    timed = interleaved(calls, repeats)
    base = timed["full_cpu_us"]
    return {name: base - timed[f"{name}_cpu_us"] for name in calls if name != "full"}


def _throttle_calls() -> dict[str, Callable[[], Any]]:
    request = Request(RequestFactory(REMOTE_ADDR="127.0.0.2").post("/predict_titanic"))
    key = "throttle:predict:127.0.0.2"

    def upsert() -> None:
        with connection.cursor() as cursor:
            cursor.execute(THROTTLE_UPSERT, [f"{key}:{int(time.time() // 60)}"])
            cursor.fetchone()

    return {
        "throttle_allow_request": lambda: PredictThrottle().allow_request(request, None),
        "throttle_upsert_unlogged": upsert,
    }


def _components(repeats: int) -> dict[str, float]:
    checked = PassengerSerializer(data=SEED_EXAMPLE)
    checked.is_valid(raise_exception=True)
    features = dict(checked.validated_data)
    shared = SharedFieldsSerializer(data=SEED_EXAMPLE)
    assert shared.is_valid() and dict(shared.validated_data) == features
    scorer = champion_cache.get().scorer
    prediction = prediction_create(
        features=features, request_id=uuid.uuid4(), started=time.perf_counter()
    )

    def select_1() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def service() -> None:
        prediction_create(features=features, request_id=uuid.uuid4(), started=time.perf_counter())

    calls = {
        "strict_serializer": lambda: PassengerSerializer(data=SEED_EXAMPLE).is_valid(),
        "plain_serializer": lambda: PlainSerializer(data=SEED_EXAMPLE).is_valid(),
        "strict_shared_fields": lambda: SharedFieldsSerializer(data=SEED_EXAMPLE).is_valid(),
        "scorer_predict": lambda: scorer.predict_proba([features]),
        "output_serializer": lambda: PredictionOutputSerializer(prediction).data,
        "select_1_round_trip": select_1,
        "version_check_query": champion_cache.refresh,
        "insert_raw_autocommit": _insert_raw,
        "insert_orm_autocommit": lambda: _log_row().save(force_insert=True),
        "insert_orm_atomic": _insert_atomic,
        "prediction_create": service,
        **_throttle_calls(),
    }
    return interleaved(calls, repeats)


def measure(repeats: int) -> dict[str, Any]:
    """Time one request in-process and its parts; list the SQL a request sends."""
    client = Client(HTTP_HOST="127.0.0.1")
    assert _post(client) == 200
    steady = _captured(client)
    # Let the per-process version check fall due, to see the request that pays for it.
    time.sleep(settings.SERVING_VERSION_CHECK_SECONDS + 0.05)
    with_check = _captured(client)
    return {
        "throttle_rate": settings.PREDICT_THROTTLE_RATE,
        "version_check_seconds": settings.SERVING_VERSION_CHECK_SECONDS,
        "queries_steady": steady,
        "queries_with_version_check": with_check,
        **_requests(repeats),
        **_components(repeats),
        "middleware_cpu_us": _middleware_costs(repeats),
    }


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "setup":
        print(json.dumps(setup()))
    elif mode == "measure":
        print(json.dumps(measure(int(sys.argv[2]) if len(sys.argv) > 2 else 300)))
    else:
        sys.exit(f"unknown mode {mode!r}: use setup or measure")
