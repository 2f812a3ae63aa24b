"""The floor endpoint's view: plain DRF serializer, one autocommit INSERT, nothing else.

Settings-agnostic, so the project's probe can call it in-process too; `_floor_app` serves it.
"""

import os
import time
import uuid
from typing import Any

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

FLOOR_TABLE = os.environ.get("FLOOR_TABLE", "bench_floor_log")
INSERT = (
    f"INSERT INTO {FLOOR_TABLE} (request_id, created_at, model_version, pclass, sex, age, "  # noqa: S608 (a constant table name)
    "sibsp, parch, fare, embarked, prob_survive, label, latency_ms) "
    "VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, 0.0, 0, %s) RETURNING id"
)


class PassengerSerializer(serializers.Serializer):
    Pclass = serializers.IntegerField(min_value=1, max_value=3)
    Sex = serializers.ChoiceField(choices=["male", "female"])
    Age = serializers.FloatField(min_value=0, max_value=120, allow_null=True, default=None)
    SibSp = serializers.IntegerField(min_value=0, max_value=20)
    Parch = serializers.IntegerField(min_value=0, max_value=20)
    Fare = serializers.FloatField(min_value=0, max_value=10000, allow_null=True, default=None)
    Embarked = serializers.ChoiceField(choices=["C", "Q", "S"], allow_null=True, default=None)


def _request_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.headers.get("X-Request-ID", ""))
    except ValueError:
        return uuid.uuid4()


class FloorView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        serializer = PassengerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        p: dict[str, Any] = serializer.validated_data
        request_id = _request_id(request)
        with connection.cursor() as cursor:
            cursor.execute(
                INSERT,
                [
                    str(request_id),
                    timezone.now(),
                    p["Pclass"],
                    p["Sex"],
                    p["Age"],
                    p["SibSp"],
                    p["Parch"],
                    p["Fare"],
                    p["Embarked"],
                    (time.perf_counter() - started) * 1000,
                ],
            )
        return Response({"request_id": str(request_id)})


urlpatterns = [path("predict_titanic", FloorView.as_view())]
