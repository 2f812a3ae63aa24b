"""Whether the MLflow UI answers: a short plain-HTTP probe of its /health, remembered briefly."""

import socket
import time
from typing import Any

from apps.training.selectors import mlflow_ui
from apps.training.selectors.mlflow_ui import PROBE_TIMEOUT_SECONDS, mlflow_ui_status


def test_it_says_the_ui_answers_and_asks_again_only_later(mlflow_ui_answering: list[str]) -> None:
    status = mlflow_ui_status()
    assert status["answers"] and status["error"] == ""
    assert status["url"].startswith("http://127.0.0.1:") and not status["url"].endswith("/")
    assert mlflow_ui_status() == status
    assert mlflow_ui_answering == ["/health"]  # the second answer was remembered
    expires, _ = mlflow_ui._remembered[status["url"]]
    mlflow_ui._remembered[status["url"]] = (expires - mlflow_ui.ANSWERS_SECONDS, "")
    assert mlflow_ui_status()["answers"]
    assert mlflow_ui_answering == ["/health", "/health"]  # asked again once the answer expired


def test_it_says_a_silent_ui_does_not_answer_within_the_timeout(mlflow_ui_silent: str) -> None:
    started = time.monotonic()
    status = mlflow_ui_status()
    assert time.monotonic() - started < PROBE_TIMEOUT_SECONDS + 0.5
    assert status["url"] == mlflow_ui_silent and not status["answers"]
    assert "ConnectionRefusedError" in status["error"]
    expires, _ = mlflow_ui._remembered[mlflow_ui_silent]
    assert expires - time.monotonic() <= mlflow_ui.SILENT_SECONDS  # asked again soon


def test_it_gives_up_on_a_ui_that_accepts_but_never_answers(settings: Any) -> None:
    with socket.socket() as listening:  # connections queue up, nobody reads them
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        settings.MLFLOW_UI_URL = f"http://127.0.0.1:{listening.getsockname()[1]}"
        started = time.monotonic()
        status = mlflow_ui_status()
    assert time.monotonic() - started < PROBE_TIMEOUT_SECONDS + 0.5
    assert not status["answers"] and "timed out" in status["error"]


def test_it_probes_the_probe_url_when_the_links_point_elsewhere(
    mlflow_ui_answering: list[str], settings: Any
) -> None:
    settings.MLFLOW_UI_PROBE_URL, settings.MLFLOW_UI_URL = (
        settings.MLFLOW_UI_URL,
        "http://ui.example",
    )
    status = mlflow_ui_status()
    assert status == {"url": "http://ui.example", "answers": True, "error": ""}


def test_it_refuses_to_probe_anything_but_http(settings: Any) -> None:
    settings.MLFLOW_UI_URL = "file:///etc"
    assert mlflow_ui_status()["error"] == "not an http(s) URL: file:///etc"
