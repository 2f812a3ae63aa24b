"""Dashboard pages of the serving side: the inference log (filter, page, CSV)."""

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core.pages import dashboard_view
from apps.serving.forms import TrafficFilterForm
from apps.serving.permissions import READ_TRAFFIC
from apps.serving.selectors import inference_log as selectors

# Traffic rows are passengers' features: a sensitive read with its own permission.
_traffic_reader = permission_required(READ_TRAFFIC, raise_exception=True)


def _filters(request: HttpRequest) -> TrafficFilterForm:
    return TrafficFilterForm(request.GET or None)


@dashboard_view
@require_GET
@_traffic_reader
def traffic(request: HttpRequest) -> HttpResponse:
    form = _filters(request)
    if form.is_bound and not form.is_valid():
        messages.error(request, "Some filters are not valid; fix them to see the traffic.")
        context: dict[str, Any] = {
            "form": form,
            "page": None,
            "versions": selectors.inference_versions(),
        }
        return render(request, "serving/traffic.html", context, status=400)
    cleaned = form.cleaned_data if form.is_bound else {}
    rows = selectors.inference_filter(cleaned)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": selectors.inference_page(rows, request.GET.get("page")),
        "versions": selectors.inference_versions(),
        "query": query.urlencode(),
    }
    return render(request, "serving/traffic.html", context)


class _Echo:
    """A file-like object whose write returns the line: csv.writer then yields text."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterator[tuple[object, ...]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(selectors.CSV_COLUMNS)
    for row in rows:
        yield writer.writerow(["" if value is None else value for value in row])


@dashboard_view
@require_GET
@_traffic_reader
def traffic_csv(request: HttpRequest) -> HttpResponseBase:
    """The filtered inference log as CSV (the same validation as the page)."""
    form = _filters(request)
    if form.is_bound and not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(map(str, e))}" for name, e in form.errors.items())
        return HttpResponse(f"invalid filters: {errors}\n", status=400, content_type="text/plain")
    rows = selectors.inference_filter(form.cleaned_data if form.is_bound else {})
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        _csv_lines(selectors.inference_csv_rows(rows)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="inference-log-{stamp}.csv"'
    return response
