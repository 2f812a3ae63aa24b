"""The dashboard in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

A person signs in, opens the pending candidate, clicks Approve and sees the champion change on the
overview. The approval runs the real services against a real MLflow registry (the scorer is
downloaded from the candidate's MLflow run and checksum-verified; the alias moves in MLflow).
Screenshots land in test-artifacts/ (git-ignored) for people to look at.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from apps.monitoring.models import DriftReport
from apps.training.models import ModelVersion, PromotionEvent, TrainingRun
from tests.dashboard import factories as f
from tests.dashboard.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHARTS_DRAWN = """
const charts = Array.from(document.querySelectorAll('.chart'));
return charts.length > 0 && charts.every((c) => Array.isArray(c.data) && c.data.length > 0
    && c.querySelector('.main-svg') !== null)
  ? charts.map((c) => c.data.length) : null;
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.fail(
            "needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver: Any, condition: Any, timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _by_css(selector: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return ec.presence_of_element_located((By.CSS_SELECTOR, selector))


def _screenshot(driver: Any, name: str) -> Path:
    """The whole page: grow the window to the document's height, then capture."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 800) + 40, 7000))
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot written for {name}"
    driver.set_window_size(1400, 1000)
    return path


def _charts_drawn(driver: Any) -> list[int]:
    drawn = _wait(driver, lambda d: d.execute_script(CHARTS_DRAWN))
    _no_console_errors(driver)
    return drawn


def _no_console_errors(driver: Any) -> None:
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors


def _login(driver: Any, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    _wait(driver, _by_css("#id_username")).send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver, _by_css("#champion-card"))


def _story(tmp_path: Path) -> dict[str, Any]:
    """v1 serves, v2 waits for approval; a finished run, drift history and traffic exist."""
    user = User.objects.create_user("alice", password=PASSWORD)
    for codename in ("approve_modelversion", "view_dashboard", "view_inferencelog"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    data = f.data_version_create()
    run = f.run_create(data=data)
    f.registered_version(1, tmp_path=tmp_path, champion=True)
    candidate = f.registered_version(2, tmp_path=tmp_path, champion=False, intercept=0.9, run=run)
    f.pending_request(candidate, ModelVersion.objects.get(version=1))
    now = timezone.now()
    for hours in range(12, 0, -1):
        sex = 0.02 + (12 - hours) * 0.03
        f.drift_report_create(
            created_at=now - timedelta(hours=hours),
            verdict=DriftReport.Verdict.WARNING if sex >= 0.2 else DriftReport.Verdict.NONE,
            psi={"Sex": sex, "Age": 0.04 + hours / 200, "Pclass": 0.06, "Fare": 0.03},
        )
    f.inference_rows(400, version=1)
    return {"run": run}


def test_it_approves_the_pending_candidate_in_a_real_browser(
    live_server: Any, browser: Any, mlflow_registry: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    story = _story(tmp_path)
    base = live_server.url

    _login(browser, base, "alice")
    champion = _wait(browser, _by_css("[data-champion-version]"))
    assert champion.get_attribute("data-champion-version") == "1"

    browser.get(base + "/models/")
    _charts_drawn(browser)  # the AUC-gain chart of the pending candidate
    _screenshot(browser, "models-pending")
    browser.find_element(By.ID, "approve-2").click()
    message = _wait(browser, _by_css(".message.success"))
    assert "Version 2 is now the champion" in message.text

    browser.get(base + "/")
    champion = _wait(browser, _by_css("[data-champion-version]"))
    assert champion.get_attribute("data-champion-version") == "2"
    assert "v2" in browser.find_element(By.ID, "champion-card").text
    # traffic and latency per hour, PSI per feature (2 traces each + 2 thresholds), realised
    # accuracy and AUC per day
    assert _charts_drawn(browser) == [1, 2, 2 * 4 + 2, 2]
    _screenshot(browser, "overview")
    assert f.alias("champion") == 2 and f.alias("challenger") is None
    event = PromotionEvent.objects.filter(action="promote").get()
    assert (event.actor, event.from_version, event.to_version) == ("alice", 1, 2)

    browser.get(f"{base}/runs/{story['run'].pk}/")
    traces = _charts_drawn(browser)
    assert len(traces) == 4 + 2 * 3  # 4 run charts + confusion and weights per family
    assert traces[2] == 4  # ROC: three families and the chance line
    _screenshot(browser, "run-detail")

    browser.get(base + "/drift/")
    traces = _charts_drawn(browser)
    assert traces == [2 * 4 + 2]  # PSI and noise floor per feature, two thresholds
    _screenshot(browser, "drift")
    browser.find_element(By.CSS_SELECTOR, "#report-table tbody a").click()
    assert _charts_drawn(browser) == [2, 2, 2, 2]  # baseline vs live per feature
    _screenshot(browser, "drift-report")

    browser.get(base + "/traffic/?sex=female&sort=-prob_survive")
    _wait(browser, _by_css("#traffic-table"))
    _screenshot(browser, "traffic")
    browser.get(base + "/data/")
    browser.find_element(By.CSS_SELECTOR, "#data-table tbody a").click()
    assert "served 400 requests" in _wait(browser, _by_css(".lineage")).text
    _screenshot(browser, "data-version")
    _no_console_errors(browser)


def test_it_refreshes_a_running_jobs_progress_by_itself(live_server: Any, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    viola = User.objects.create_user("viola", password=PASSWORD)
    viola.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    run = f.run_create(status="running")  # 2 of 5 grid points done
    _login(browser, live_server.url, "viola")

    def progress(driver: Any) -> str:
        return driver.find_element(By.CSS_SELECTOR, "[data-progress-text]").text

    assert progress(browser).startswith("2 / 5")
    TrainingRun.objects.filter(pk=run.pk).update(progress_done=4)
    _wait(browser, lambda d: progress(d).startswith("4 / 5"), timeout=20)
    TrainingRun.objects.filter(pk=run.pk).update(
        status="succeeded", active=None, finished_at=timezone.now()
    )
    _wait(browser, _by_css("[data-training-idle]"), timeout=20)  # reloaded when the job ended


def test_it_draws_the_foresight_figures_in_a_real_browser(live_server: Any, browser: Any) -> None:
    import numpy as np

    from apps.monitoring import estimation
    from apps.monitoring.shadow import shadow_compare

    viola = User.objects.create_user("viola", password=PASSWORD)
    viola.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    champion = f.model_version_create(1)
    request = f.pending_request(f.model_version_create(2, status="candidate"), champion)
    rng = np.random.default_rng(4)
    rows = [
        {"Sex": rng.choice(["male", "female"]), "Pclass": int(rng.integers(1, 4)), "Embarked": "S"}
        for _ in range(400)
    ]
    champion_scores = rng.uniform(size=400)
    candidate_scores = np.clip(champion_scores + rng.normal(0, 0.1, 400), 0, 1)
    labels = [int(rng.uniform() < s) if i % 3 == 0 else None for i, s in enumerate(champion_scores)]
    request.shadow = {
        **shadow_compare(rows, candidate_scores, champion_scores, labels),
        "champion_version": 1,
    }
    request.save(update_fields=["shadow"])
    calibration = {"method": "sigmoid", "a": -1.0, "b": 0.0, "cov": [[0.01, 0], [0, 0.01]]}
    now = timezone.now()
    for hours in range(12, 0, -1):
        report = f.drift_report_create(created_at=now - timedelta(hours=hours), psi={"Sex": 0.05})
        # A first-class surge moves the scores up over the day; labels come back for some checks.
        scores = np.clip(rng.uniform(0.05, 0.95, 300) + (12 - hours) * 0.02, 0, 1)
        served = (scores > 0.5).astype(int)
        truth = (rng.uniform(size=300) < scores).astype(int)
        performance = {
            "estimate": estimation.performance_estimate(calibration, scores, served),
            "realised": estimation.performance_realised(truth, scores, served)
            if hours % 3 == 0
            else None,
            "reference": {"accuracy": 0.79, "precision": 0.75, "recall": 0.7, "auc": 0.85},
            "tolerance": 0.05,
            "drops": {},
            "calibration": {"method": "sigmoid", "n_rows": 145},
        }
        DriftReport.objects.filter(pk=report.pk).update(performance=performance)
    _login(browser, live_server.url, "viola")
    assert 5 in _charts_drawn(browser)  # the overview's estimate chart: band (2), estimate, ...
    browser.get(live_server.url + "/drift/")
    assert _charts_drawn(browser) == [2 + 2, 5]  # PSI (+floor) and thresholds; the estimate
    _screenshot(browser, "drift-estimated-performance")
    browser.get(live_server.url + "/models/")
    assert _charts_drawn(browser)[-1] == 2  # candidate and champion score histograms
    _screenshot(browser, "models-shadow-replay")


@pytest.fixture
def mlflow_ui(mlflow_registry: str, settings: Any, tmp_path: Path) -> Iterator[str]:
    """The MLflow UI that run_platform starts (same command), over this test's own store."""
    from apps.dashboard.supervisor import mlflow_ui_command
    from tests.support.processes import free_port, wait_for_http

    port = free_port()
    settings.MLFLOW_UI_BIND = f"127.0.0.1:{port}"
    settings.MLFLOW_UI_URL = f"http://127.0.0.1:{port}"
    settings.MLFLOW_UI_PROBE_URL = ""
    command, _ = mlflow_ui_command()
    assert command is not None
    with (tmp_path / "mlflow-ui.log").open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )
    try:
        wait_for_http(f"{settings.MLFLOW_UI_URL}/health", 90)
        yield settings.MLFLOW_UI_URL
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the CLI and its uvicorn
        try:
            proc.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _mlflow_links(driver: Any, ui: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]'), (a) => a.href)"
        ".filter((href) => href.startsWith(arguments[0]));",
        ui,
    )


def _what_mlflow_shows(href: str, ui: str, names: dict[str, str]) -> list[str]:
    """What the MLflow UI page a dashboard link names must show once MLflow's app has drawn it."""
    route = href.removeprefix(ui).removeprefix("/").removeprefix("#")
    parts = route.strip("/").split("/")
    model = settings.MLFLOW_MODEL_NAME
    if route in ("", "/"):
        return ["Experiments"]  # the UI's home, with its navigation
    if parts == ["experiments"]:
        return ["dashboard-tests"]  # the experiment the runs were logged to
    if parts[0] == "runs":
        return [names[parts[1]], parts[1], "dashboard-tests"]  # run name and id, its experiment
    if parts[:2] == ["models", model] and len(parts) == 2:
        return [model, "Version 1", "Version 2"]
    if parts[:3] == ["models", model, "versions"]:
        return [model, f"Version {parts[3]}", "Source Run"]
    raise AssertionError(f"a dashboard link the test does not know: {href}")


def test_it_opens_every_mlflow_link_in_the_mlflow_ui(
    live_server: Any, browser: Any, mlflow_ui: str, tmp_path: Path
) -> None:
    """Every MLflow link on the overview, a run page, the models and a version page: followed."""
    from mlflow import MlflowClient

    story = _story(tmp_path)
    client = MlflowClient(settings.MLFLOW_TRACKING_URI)
    experiment = client.get_experiment_by_name("dashboard-tests").experiment_id
    finished = client.create_run(experiment, run_name="finished-parent")
    client.set_terminated(finished.info.run_id)
    running = client.create_run(experiment, run_name="running-parent")
    names = {finished.info.run_id: "finished-parent", running.info.run_id: "running-parent"}
    run = story["run"]
    TrainingRun.objects.filter(pk=run.pk).update(mlflow_parent_run_id=finished.info.run_id)
    f.run_create(status="running", mlflow_parent_run_id=running.info.run_id)

    _login(browser, live_server.url, "alice")
    status = browser.find_element("id", "mlflow-ui-status")
    assert status.get_attribute("data-answers") == "true" and mlflow_ui in status.text
    pages = ["/", f"/runs/{run.pk}/", "/models/", "/models/2/"]
    links: dict[str, str] = {}
    for page in pages:
        browser.get(live_server.url + page)
        found = _mlflow_links(browser, mlflow_ui)
        assert len(found) >= 2, (page, found)  # the navigation's link and the page's own
        links.update(dict.fromkeys(found, page))
    routes = {href.removeprefix(mlflow_ui) for href in links}
    assert {
        "/",
        "/#/experiments",
        f"/#/models/{settings.MLFLOW_MODEL_NAME}",
        f"/#/models/{settings.MLFLOW_MODEL_NAME}/versions/1",
        f"/#/models/{settings.MLFLOW_MODEL_NAME}/versions/2",
        f"/#/runs/{finished.info.run_id}",
        f"/#/runs/{running.info.run_id}",
    } == routes

    for number, (href, page) in enumerate(sorted(links.items())):
        expected = _what_mlflow_shows(href, mlflow_ui, names)
        browser.get("about:blank")  # a fresh load of MLflow's app for every link
        browser.get(href)

        def shown(driver: Any, expected: list[str] = expected) -> bool:
            text = driver.find_element("tag name", "body").text
            return all(item in text for item in expected)

        try:
            _wait(browser, shown, timeout=60)
        except Exception as exc:
            text = browser.find_element("tag name", "body").text[:1500]
            raise AssertionError(f"{href} (linked from {page}) shows: {text}") from exc
        assert browser.current_url.startswith(mlflow_ui), browser.current_url
        assert "Page not found" not in browser.find_element("tag name", "body").text
        slug = re.sub(r"[^a-z0-9]+", "-", href.removeprefix(mlflow_ui).lower()).strip("-")
        _screenshot(browser, f"mlflow-ui-{number}-{slug[:40] or 'home'}")
