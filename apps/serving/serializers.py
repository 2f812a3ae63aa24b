"""Strict input checks for the scoring API: JSON types as declared, domains as the contract."""

import math
from typing import Any

from rest_framework import serializers

from apps.core.api import StrictSerializer
from apps.core.features import SPEC, Feature


class StrictIntegerField(serializers.IntegerField):
    """An integer that arrived as a JSON integer (no strings, floats or booleans)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A finite JSON number (integers allowed; strings, booleans, NaN and Infinity refused)."""

    default_error_messages = {"not_finite": "A finite number is required."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if not math.isfinite(data):
            self.fail("not_finite")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the listed strings, exactly (no other types)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _feature_field(feature: Feature) -> serializers.Field:
    """The API field of one feature, with the contract's type, domain and nullability.

    Every key is required, nullable ones included: a client that drops a key by mistake must
    hear about it instead of silently moving its traffic into the drift check's MISSING bin.
    """
    optional: dict[str, Any] = {"allow_null": True} if feature.nullable else {}
    if feature.kind in ("integer", "choice_integer"):
        # DRF compares bounds with `<`, so the spec's float bounds work; the stubs ask for int.
        return StrictIntegerField(
            min_value=feature.low,  # type: ignore[arg-type]
            max_value=feature.high,  # type: ignore[arg-type]
            **optional,
        )
    if feature.kind == "float":
        return StrictFloatField(min_value=feature.low, max_value=feature.high, **optional)
    return StrictChoiceField(choices=list(feature.choices), **optional)


# One field per feature of the spec, in the spec's order.
PassengerSerializer = type(
    "PassengerSerializer",
    (StrictSerializer,),
    {feature.name: _feature_field(feature) for feature in SPEC},
)


class BatchSerializer(StrictSerializer):
    passengers = serializers.ListField(
        child=PassengerSerializer(), min_length=1, max_length=1000, allow_empty=False
    )


class PredictionOutputSerializer(serializers.Serializer):
    prob_survive = serializers.FloatField(help_text="P(Survived = 1) from the champion")
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.label.
    label = serializers.IntegerField(help_text="1 when prob_survive > 0.5, else 0")  # type: ignore[assignment]
    # Clients of the seed's service read `prediction`; it is the same value as `label`.
    prediction = serializers.IntegerField(
        source="label", read_only=True, help_text="the same value as `label` (the seed's name)"
    )
    model_version = serializers.CharField()
    request_id = serializers.UUIDField()


class BatchOutputSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    model_version = serializers.CharField()
    predictions = PredictionOutputSerializer(many=True)


class FeedbackSerializer(StrictSerializer):
    request_id = serializers.UUIDField()
    Survived = StrictIntegerField(min_value=0, max_value=1)


class FeedbackOutputSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    Survived = serializers.IntegerField(min_value=0, max_value=1)


class ReloadOutputSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    registry_version = serializers.IntegerField(allow_null=True)
    consistent = serializers.BooleanField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    request_id = serializers.UUIDField(required=False)


class RegistryCheckSerializer(serializers.Serializer):
    checked_at = serializers.CharField()
    database_version = serializers.IntegerField(allow_null=True)
    registry_version = serializers.IntegerField(allow_null=True)
    agrees = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


class MlflowUiSerializer(serializers.Serializer):
    url = serializers.CharField()
    answers = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    live = serializers.BooleanField()
    ready = serializers.BooleanField()
    model_loaded = serializers.BooleanField()
    model_version = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    database = serializers.CharField()
    # MLflow's champion alias vs the database; absent until the worker first compared them.
    registry = RegistryCheckSerializer(required=False)
    # Informational: whether the MLflow UI the dashboard links to answers; never affects readiness.
    mlflow_ui = MlflowUiSerializer()


class LiveSerializer(serializers.Serializer):
    live = serializers.BooleanField()
