"""The scoring API: thin views, one service call each; domain errors map to codes here."""

import time
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView, exception_handler

from apps.serving import serializers as s
from apps.serving.loader import ModelUnavailable, NoChampionModel
from apps.serving.selectors.health import serving_health
from apps.serving.services import (
    AlreadyLabelled,
    InferenceNotFound,
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
}
RETRY_AFTER_SECONDS = "5"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler plus the domain errors of the serving services."""
    for kind, code in ERROR_CODES.items():
        if isinstance(exc, kind):
            detail = (
                str(exc)
                if not isinstance(exc, DatabaseError)
                else (f"the database is unavailable: {type(exc).__name__}")
            )
            response = Response({"detail": detail}, status=code)
            if code == status.HTTP_503_SERVICE_UNAVAILABLE:
                response["Retry-After"] = RETRY_AFTER_SECONDS
            return response
    return exception_handler(exc, context)


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."


class PredictThrottle(BaseThrottle):
    """Per-client fixed-window limit counted in the database, shared by every web process.

    One UPSERT per request; DRF's rate throttles instead rewrite a cached list with every
    request's timestamp, thousands of entries at the default rate.
    """

    def __init__(self) -> None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get("predict")
        self.limit, self.period = (None, 0) if not rate else self.parse_rate(rate)
        self.wait_seconds = 0.0

    @staticmethod
    def parse_rate(rate: str) -> tuple[int, int]:
        count, unit = rate.split("/")
        return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[0]]

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.limit is None:
            return True
        now = time.time()
        window = int(now // self.period)
        count = throttle_count(ident=f"predict:{self.get_ident(request)}", window=window)
        self.wait_seconds = (window + 1) * self.period - now
        return count <= self.limit

    def wait(self) -> float | None:
        return max(self.wait_seconds, 1.0)


def _check_size(request: Request, limit: int) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {limit}.")


def _request_id(request: Request) -> uuid.UUID:
    header = request.headers.get("X-Request-ID", "")
    try:
        return uuid.UUID(header)
    except ValueError:
        return uuid.uuid4()


def _prediction_out(prediction: Any) -> dict[str, Any]:
    return s.PredictionOutputSerializer(prediction).data


class PredictView(APIView):
    throttle_classes = [PredictThrottle]
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=s.PassengerSerializer,
        responses={
            200: s.PredictionOutputSerializer,
            400: OpenApiResponse(description="invalid input"),
            503: OpenApiResponse(description="no champion, or the log cannot be written"),
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

    @extend_schema(request=s.BatchSerializer, responses={200: s.BatchOutputSerializer})
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        _check_size(request, settings.PREDICT_BATCH_MAX_BODY_BYTES)
        serializer = s.BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
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
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=s.FeedbackSerializer, responses={200: s.PredictionOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = feedback_record(
            request_id=serializer.validated_data["request_id"],
            survived=serializer.validated_data["Survived"],
        )
        return Response({"request_id": str(row.request_id), "Survived": row.true_label})


class ReloadView(APIView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=None, responses={200: OpenApiResponse(description="reloaded")})
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
