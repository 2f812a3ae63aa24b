"""Whether the MLflow UI answers: one plain HTTP GET of its /health, remembered for a few seconds.

The web process never imports the mlflow package (it loads pyspark's modules), so this is urllib.
The answer is remembered in the process, not in Django's cache: that cache is a database table,
and a miss there (a read, then a write) costs more queries than the probe of a local port itself.
Each web process asks at most once per ANSWERS_SECONDS / SILENT_SECONDS.
"""

import http.client
import time
import urllib.request
from typing import TypedDict

from django.conf import settings

PROBE_TIMEOUT_SECONDS = 0.5
# A UI that answers is asked again after 30 s; a silent one after 5 s, so one that is starting
# (it takes ~10 s) shows up soon after it answers.
ANSWERS_SECONDS = 30.0
SILENT_SECONDS = 5.0

# probe URL -> (monotonic time the answer expires, the reason it does not answer or "")
_remembered: dict[str, tuple[float, str]] = {}


class MlflowUiStatus(TypedDict):
    url: str  # where the dashboard's links point
    answers: bool
    error: str  # why not, "" when it answers


def _probe(url: str) -> str:
    """The reason the UI at `url` does not answer, or "" when its /health says OK."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}"
    try:
        probe = urllib.request.urlopen(  # noqa: S310 (scheme checked above)
            f"{url}/health", timeout=PROBE_TIMEOUT_SECONDS
        )
        with probe as response:
            return "" if response.status == 200 else f"HTTP {response.status}"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)  # URLError wraps the socket's error
        return f"{type(reason).__name__}: {reason}"[:200]


def mlflow_ui_status() -> MlflowUiStatus:
    """The UI's address and whether it answered, asked at most every few seconds per process."""
    url = settings.MLFLOW_UI_URL.rstrip("/")
    probe_url = (settings.MLFLOW_UI_PROBE_URL or url).rstrip("/")
    now = time.monotonic()
    expires, error = _remembered.get(probe_url, (0.0, ""))
    if expires <= now:
        error = _probe(probe_url)
        _remembered[probe_url] = (now + (SILENT_SECONDS if error else ANSWERS_SECONDS), error)
    return {"url": url, "answers": not error, "error": error}
