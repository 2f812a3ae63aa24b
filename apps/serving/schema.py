"""OpenAPI post-processing: request bodies accept no undeclared properties, and the answers
every operation shares are documented once."""

from typing import Any


def forbid_additional_properties(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Mark every request component `additionalProperties: false`, as the serializers enforce."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


ERROR_COMPONENT = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "request_id": {"type": "string", "format": "uuid"},
    },
    "required": ["detail"],
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Document the answers every operation can give besides its own: a malformed, oversized or
    non-JSON body, missing credentials or permission, and 503 when the database is down."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            common = {"503": _error("the database or the model is unavailable; retry later")}
            if "requestBody" in operation:
                common["400"] = {"description": "invalid input, naming the fields"}
                common["413"] = _error("request body too large")
                common["415"] = _error("unsupported media type")
            if {} not in operation.get("security", [{}]):
                common["401"] = _error("credentials missing or invalid")
                common["403"] = _error("credentials missing, or not allowed")
            for code, response in common.items():
                responses.setdefault(code, response)
    return result
