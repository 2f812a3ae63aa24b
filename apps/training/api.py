"""Machine API for data and training: thin views over the training services.

Each view names the one permission its action needs (apps/training/permissions.py); a token acts
with its user's permissions, so staff status alone opens nothing.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import StrictSerializer
from apps.core.permissions import VIEW_DASHBOARD, requires
from apps.training import permissions
from apps.training.contract import ContractError
from apps.training.dvc import DvcError
from apps.training.models import ModelVersion, TrainingRun
from apps.training.params import FAMILIES
from apps.training.services.data_versions import TrainingDataError, data_version_ingest
from apps.training.services.training_runs import TrainingRefused, training_run_enqueue

MAX_CSV_BYTES = 50 * 1024 * 1024


class CsvParser(BaseParser):
    """The raw bytes of a text/csv body (validated by the data contract, not here)."""

    media_type = "text/csv"

    # DRF hands whatever a parser returns to request.data; the stubs expect a mapping.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        return stream.read(MAX_CSV_BYTES + 1) if stream else b""


class DataVersionOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    md5 = serializers.CharField()
    rows = serializers.IntegerField()
    positives = serializers.IntegerField()
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.source.
    source = serializers.CharField()  # type: ignore[assignment]
    is_current = serializers.BooleanField()


class DataVersionUploadView(APIView):
    parser_classes = [CsvParser]
    permission_classes = [requires(permissions.UPLOAD_DATA)]

    @extend_schema(
        request={"text/csv": bytes},
        responses={
            201: DataVersionOutput,
            200: DataVersionOutput,
            400: OpenApiResponse(description="the file breaks the data contract (named)"),
            413: OpenApiResponse(description="the file is too large"),
        },
    )
    def post(self, request: Request) -> Response:
        # DRF gives an empty form dict, not bytes, for a body without content.
        data = request.data if isinstance(request.data, bytes) else b""
        if len(data) > MAX_CSV_BYTES:
            return Response({"detail": f"the file exceeds {MAX_CSV_BYTES} bytes"}, status=413)
        name = request.query_params.get("name", "upload.csv")[:200]
        try:
            who = request.user.get_username()
            result = data_version_ingest(
                data=data,
                source=f"http upload: {name} by {who}",
                sources=[{"kind": "upload", "by": who, "name": name}],
            )
        except (ContractError, DvcError) as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(DataVersionOutput(result.data_version).data, status=code)


class TrainingRunInput(StrictSerializer):
    profile = serializers.ChoiceField(choices=["quick", "full"], required=False)
    families = serializers.ListField(
        child=serializers.ChoiceField(choices=list(FAMILIES)), required=False, min_length=1
    )
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="train even when this data was already trained with the same parameters",
    )


class TrainingRunOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    profile = serializers.CharField()
    families = serializers.ListField(child=serializers.CharField())
    data_version = serializers.IntegerField(source="data_version_id")
    progress_done = serializers.IntegerField()
    progress_total = serializers.IntegerField()
    best_family = serializers.CharField()
    best_eval_auc = serializers.FloatField(allow_null=True)
    mlflow_parent_run_id = serializers.CharField()
    model_version = serializers.SerializerMethodField()
    error = serializers.CharField()

    def get_model_version(self, run: TrainingRun) -> int | None:
        found = ModelVersion.objects.filter(training_run=run).values_list("version", flat=True)
        return found.first()


class TrainingRunListView(APIView):
    permission_classes = [requires(permissions.START_TRAINING)]

    @extend_schema(
        request=TrainingRunInput,
        responses={
            202: TrainingRunOutput,
            400: OpenApiResponse(description="invalid input, naming the fields"),
            409: OpenApiResponse(
                description="a job is already active, or this data was already trained with "
                "these parameters (send force: true to train anyway)"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = TrainingRunInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            run = training_run_enqueue(
                profile=serializer.validated_data.get("profile"),
                families=serializer.validated_data.get("families"),
                trigger=TrainingRun.Trigger.API,
                user=request.user,
                force=serializer.validated_data["force"],
            )
        except TrainingRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except TrainingDataError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(TrainingRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class TrainingRunDetailView(APIView):
    # A run's status is what the dashboard's run page shows: the same permission reads it.
    permission_classes = [requires(VIEW_DASHBOARD)]

    @extend_schema(
        responses={200: TrainingRunOutput, 404: OpenApiResponse(description="no such run")}
    )
    def get(self, request: Request, pk: int) -> Response:
        run = TrainingRun.objects.filter(pk=pk).first()
        if run is None:
            return Response({"detail": f"no training run {pk}"}, status=404)
        return Response(TrainingRunOutput(run).data)
