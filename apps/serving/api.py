"""The scoring API: thin views, one service call each; domain errors map to codes here."""

import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView, exception_handler

from apps.core.api import PayloadTooLarge
from apps.core.permissions import requires
from apps.serving import permissions as serving_permissions
from apps.serving import serializers as s
from apps.serving.loader import ModelUnavailable, NoChampionModel
from apps.serving.selectors.health import serving_health
from apps.serving.services import (
    AlreadyLabelled,
    InferenceNotFound,
    RequestIdConflict,
    ServiceUnavailable,
    feedback_record,
    prediction_batch_create,
    prediction_create,
    serving_reload,
    throttle_count,
)

ERROR_CODES: dict[type[Exception], int] = {
    NoChampionModel: status.HTTP_503_SERVICE_UNAVAILABLE,
    ModelUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,  # registry, checksum or file errors
    DatabaseError: status.HTTP_503_SERVICE_UNAVAILABLE,  # e.g. the throttle's shared cache
    ServiceUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    InferenceNotFound: status.HTTP_404_NOT_FOUND,
    AlreadyLabelled: status.HTTP_409_CONFLICT,
    RequestIdConflict: status.HTTP_409_CONFLICT,
}
RETRY_AFTER_SECONDS = "5"
logger = logging.getLogger(__name__)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler plus the domain errors of the services; database text never leaves."""
    if isinstance(exc, RequestDataTooBig):  # Django's own cap, hit before the parser reads
        exc = PayloadTooLarge(f"Request body exceeds {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    for kind, code in ERROR_CODES.items():
        if isinstance(exc, kind):
            detail = "the database is unavailable" if isinstance(exc, DatabaseError) else str(exc)
            body: dict[str, Any] = {"detail": detail}
            response = Response(body, status=code)
            if code == status.HTTP_503_SERVICE_UNAVAILABLE:
                request = context.get("request")
                request_id = _request_id(request) if request is not None else uuid.uuid4()
                # The cause (SQL, constraint names, loader paths) goes to the log, not the client.
                logger.error("request %s answered 503: %s", request_id, detail, exc_info=exc)
                body["request_id"] = str(request_id)
                body["detail"] = f"{detail} (request id {request_id}: quote it when reporting)"
                response["Retry-After"] = RETRY_AFTER_SECONDS
            return response
    return exception_handler(exc, context)


class PredictThrottle(BaseThrottle):
    """Per-client fixed-window limit counted in the database, shared by every web process.

    One UPSERT per request; DRF's rate throttles instead rewrite a cached list with every
    request's timestamp, thousands of entries at the default rate.
    """

    scope = "predict"

    def __init__(self) -> None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.limit: int | None
        self.limit, self.period = (None, 0) if not rate else self.parse_rate(str(rate))
        self.wait_seconds = 0.0

    @staticmethod
    def parse_rate(rate: str) -> tuple[int, int]:
        count, unit = rate.split("/")
        return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[0]]

    def allow_request(self, request: Request, view: Any) -> bool:
        return self.allow_amount(request, amount=1)

    def allow_amount(self, request: Request, *, amount: int) -> bool:
        if self.limit is None:
            return True
        now = time.time()
        window = int(now // self.period)
        ident = f"{self.scope}:{self.get_ident(request)}"
        count = throttle_count(ident=ident, window=window, amount=amount)
        self.wait_seconds = (window + 1) * self.period - now
        return count <= self.limit

    def wait(self) -> float | None:
        return max(self.wait_seconds, 1.0)


class BatchRowsThrottle(PredictThrottle):
    """Counts a batch by its rows, so a 1,000-row batch spends 1,000 of the budget."""

    scope = "predict_batch_rows"

    def allow_request(self, request: Request, view: Any) -> bool:
        return True  # counted by the view once the rows are known (after validation)


def _check_size(request: Request, limit: int) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {limit}.")


def _request_id(request: Request) -> uuid.UUID:
    """The client's X-Request-ID when it is a UUID, else a fresh one; the same for one request."""
    cached = getattr(request, "titanic_request_id", None)
    if cached is None:
        try:
            cached = uuid.UUID(request.headers.get("X-Request-ID", ""))
        except ValueError:
            cached = uuid.uuid4()
        request.titanic_request_id = cached  # type: ignore[attr-defined]
    return cached


def _auth_kind(request: Request) -> str:
    """How the caller proved who they are, for the label's provenance: token, session or basic."""
    authenticator = type(request.successful_authenticator).__name__
    return {
        "TokenAuthentication": "token",
        "SessionAuthentication": "session",
        "BasicAuthentication": "basic",
    }.get(authenticator, authenticator[:16])


def _prediction_out(prediction: Any) -> dict[str, Any]:
    return s.PredictionOutputSerializer(prediction).data


ERRORS = {
    400: OpenApiResponse(description="invalid input, naming the fields"),
    413: OpenApiResponse(s.ErrorSerializer, description="request body too large"),
    415: OpenApiResponse(s.ErrorSerializer, description="not application/json"),
    429: OpenApiResponse(s.ErrorSerializer, description="throttled: see Retry-After"),
    503: OpenApiResponse(
        s.ErrorSerializer, description="no champion, or the log cannot be written (retry)"
    ),
}


class PredictView(APIView):
    throttle_classes = [PredictThrottle]
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=s.PassengerSerializer,
        responses={
            200: s.PredictionOutputSerializer,
            409: OpenApiResponse(s.ErrorSerializer, description="X-Request-ID reused"),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        _check_size(request, settings.PREDICT_MAX_BODY_BYTES)
        serializer = s.PassengerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prediction = prediction_create(
            features=serializer.validated_data, request_id=_request_id(request), started=started
        )
        response = Response(_prediction_out(prediction))
        response["X-Request-ID"] = str(prediction.request_id)
        return response


class PredictBatchView(APIView):
    throttle_classes = [PredictThrottle]
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=s.BatchSerializer, responses={200: s.BatchOutputSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        _check_size(request, settings.PREDICT_BATCH_MAX_BODY_BYTES)
        serializer = s.BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = BatchRowsThrottle()
        if not rows.allow_amount(request, amount=len(serializer.validated_data["passengers"])):
            self.throttled(request, rows.wait() or 0.0)
        batch_id, predictions = prediction_batch_create(
            passengers=serializer.validated_data["passengers"], started=started
        )
        return Response(
            {
                "batch_id": str(batch_id),
                "model_version": str(predictions[0].model_version),
                "predictions": [_prediction_out(p) for p in predictions],
            }
        )


class FeedbackView(APIView):
    permission_classes = [requires(serving_permissions.LABEL)]

    @extend_schema(
        request=s.FeedbackSerializer,
        responses={
            200: s.FeedbackOutputSerializer,
            400: OpenApiResponse(description="invalid input, naming the fields"),
            404: OpenApiResponse(s.ErrorSerializer, description="no such request id"),
            409: OpenApiResponse(s.ErrorSerializer, description="already labelled"),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = s.FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = feedback_record(
            request_id=serializer.validated_data["request_id"],
            survived=serializer.validated_data["Survived"],
            user=request.user,
            via=_auth_kind(request),
        )
        return Response({"request_id": str(row.request_id), "Survived": row.true_label})


class ReloadView(APIView):
    permission_classes = [requires(serving_permissions.RELOAD)]

    @extend_schema(
        request=None,
        responses={
            200: s.ReloadOutputSerializer,
            503: OpenApiResponse(s.ErrorSerializer, description="reload failed; still serving"),
        },
    )
    def post(self, request: Request) -> Response:
        result = serving_reload()
        return Response(
            {
                "model_version": str(result.model_version),
                "registry_version": result.registry_version,
                "consistent": result.consistent,
            }
        )


def _readiness_response() -> Response:
    body = s.HealthSerializer(serving_health()).data
    # Orchestrators read the status code: not ready (no database, no loadable champion) is 503.
    response = Response(body, status=status.HTTP_200_OK if body["ready"] else 503)
    if not body["ready"]:
        response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses={
            200: s.HealthSerializer,
            503: OpenApiResponse(s.HealthSerializer, description="not ready; the body says why"),
        }
    )
    def get(self, request: Request) -> Response:
        return _readiness_response()


class ReadyView(HealthView):
    """Readiness for orchestrators (the same answer as /health)."""


class LiveView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: s.LiveSerializer})
    def get(self, request: Request) -> Response:
        return Response({"live": True})  # the process answers: nothing else is checked
