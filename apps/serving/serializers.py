"""Strict input checks for the scoring API: JSON types as declared, domains as the contract."""

import math
from typing import Any

from rest_framework import serializers

FEATURE_FIELDS = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")


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


class PassengerSerializer(StrictSerializer):
    Pclass = StrictIntegerField(min_value=1, max_value=3)
    Sex = StrictChoiceField(choices=["male", "female"])
    Age = StrictFloatField(
        min_value=0, max_value=120, allow_null=True, required=False, default=None
    )
    SibSp = StrictIntegerField(min_value=0, max_value=20)
    Parch = StrictIntegerField(min_value=0, max_value=20)
    Fare = StrictFloatField(
        min_value=0, max_value=10000, allow_null=True, required=False, default=None
    )
    Embarked = StrictChoiceField(
        choices=["C", "Q", "S"], allow_null=True, required=False, default=None
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
