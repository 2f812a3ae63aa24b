"""A request id for every request: from `X-Request-ID` when valid, else a new UUID.

The middleware keeps it in a context variable so every log line written while the request is
handled (including Django's own `django.request` error with its traceback) carries it.
"""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # never let a header forge log lines


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("X-Request-ID", "")
        request_id = header if _VALID.match(header) else str(uuid.uuid4())
        # The scoring API reads the same header: it then logs its row under this very id.
        request.META["HTTP_X_REQUEST_ID"] = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if not response.has_header("X-Request-ID"):
            response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request, e.g. in the worker)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # Django logs a 4xx/5xx answer after the middleware returned: read it off the request.
            request = getattr(record, "request", None)
            meta = getattr(request, "META", {})
            record.request_id = meta.get("HTTP_X_REQUEST_ID") or _current.get()
        return True
