"""OpenAPI post-processing: request bodies accept no undeclared properties."""

from typing import Any


def forbid_additional_properties(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Mark every request component `additionalProperties: false`, as the serializers enforce."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
