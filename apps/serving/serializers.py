"""Strict input checks for the scoring API: JSON types as declared, domains as the contract."""

import math
from typing import Any

from rest_framework import serializers

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


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not declare, naming them."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, got {type(data).__name__}."]}
            )
        errors = {
            name: ["Unknown field: not part of the request schema."]
            for name in sorted(set(data) - set(self.fields))
        }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)  # type: ignore[arg-type]
        if errors:
            raise serializers.ValidationError(errors)
        return value


def _feature_field(feature: Feature) -> serializers.Field:
    """The API field of one feature, with the contract's type, domain and nullability."""
    optional: dict[str, Any] = (
        {"allow_null": True, "required": False, "default": None} if feature.nullable else {}
    )
    if feature.kind in ("integer", "choice_integer"):
        return StrictIntegerField(min_value=feature.low, max_value=feature.high, **optional)
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
    prob_survive = serializers.FloatField()
    label = serializers.IntegerField()
    model_version = serializers.CharField()
    request_id = serializers.UUIDField()


class BatchOutputSerializer(serializers.Serializer):
    batch_id = serializers.UUIDField()
    model_version = serializers.CharField()
    predictions = PredictionOutputSerializer(many=True)


class FeedbackSerializer(StrictSerializer):
    request_id = serializers.UUIDField()
    Survived = StrictIntegerField(min_value=0, max_value=1)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    live = serializers.BooleanField()
    ready = serializers.BooleanField()
    model_loaded = serializers.BooleanField()
    model_version = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    database = serializers.CharField()


class LiveSerializer(serializers.Serializer):
    live = serializers.BooleanField()
