"""Traffic for demos and tests: real HTTP requests built from labelled rows, optionally shifted."""

import json
import random
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from apps.core.features import FEATURES
from apps.monitoring.services.roles import role_grant
from apps.training.contract import sample_dataset
from apps.training.selectors.data_versions import data_version_current
from apps.training.services.data_versions import data_version_path

SHIFTS = ("none", "fare_inflation", "first_class_surge", "older_passengers")
# Rows drawn from the data set (a uniform reservoir); traffic is sampled from them.
SOURCE_SAMPLE_ROWS = 20_000


def sample_passengers(
    rows: Sequence[dict[str, Any]], count: int, *, shift: str, seed: int
) -> list[dict[str, Any]]:
    """Draw `count` labelled rows (with replacement) and apply the named shift."""
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; choose from {', '.join(SHIFTS)}")
    rng = random.Random(seed)  # noqa: S311 (reproducible demo traffic, not secrets)
    if shift == "first_class_surge":  # 60% of the traffic from 1st class
        first = [row for row in rows if row["Pclass"] == 1]
        others = [row for row in rows if row["Pclass"] != 1]
        picked = [
            rng.choice(first) if rng.random() < 0.6 else rng.choice(others) for _ in range(count)
        ]
    else:
        picked = [rng.choice(rows) for _ in range(count)]
    shifted = []
    for row in picked:
        passenger = {name: row[name] for name in (*FEATURES, "Survived")}
        if shift == "fare_inflation" and passenger["Fare"] is not None:
            passenger["Fare"] = min(passenger["Fare"] * 2, 10000.0)
        elif shift == "older_passengers" and passenger["Age"] is not None:
            passenger["Age"] = min(passenger["Age"] + 25, 120.0)
        shifted.append(passenger)
    return shifted


@dataclass
class SimulationResult:
    sent: int = 0
    answered: int = 0
    labelled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)


def _post(url: str, body: dict[str, Any], token: str, timeout: float) -> tuple[int, Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--url must be an http(s) address, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Token {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:200]


def traffic_send(
    passengers: Sequence[dict[str, Any]],
    *,
    base_url: str,
    token: str,
    with_labels: bool,
    timeout: float = 10.0,
) -> SimulationResult:
    """POST each passenger to /predict_titanic and, if asked, its true label to /feedback."""
    result = SimulationResult()
    base = base_url.rstrip("/")
    for passenger in passengers:
        features = {name: passenger[name] for name in FEATURES}
        result.sent += 1
        status, answer = _post(f"{base}/predict_titanic", features, "", timeout)
        if status != 200:
            result.errors[f"predict {status}"] += 1
            continue
        result.answered += 1
        result.versions[answer["model_version"]] += 1
        if with_labels:
            label = {"request_id": answer["request_id"], "Survived": passenger["Survived"]}
            status, _ = _post(f"{base}/feedback", label, token, timeout)
            if status == 200:
                result.labelled += 1
            else:
                result.errors[f"feedback {status}"] += 1
    return result


SIMULATOR_USERNAME = "traffic-simulator"


def traffic_simulate(
    *, rows: int, shift: str, with_labels: bool, base_url: str, seed: int
) -> SimulationResult:
    """Replay labelled rows of the current data version against a running server."""
    current = data_version_current()
    if current is None:
        raise ValueError("there is no data version to sample passengers from")
    source = sample_dataset(data_version_path(current), size=SOURCE_SAMPLE_ROWS, seed=seed)
    token = ""
    if with_labels:
        user, _ = get_user_model().objects.get_or_create(username=SIMULATOR_USERNAME)
        role_grant(username=user.get_username(), role="labeller")  # /feedback needs the role
        token = Token.objects.get_or_create(user=user)[0].key
    passengers = sample_passengers(source, rows, shift=shift, seed=seed)
    return traffic_send(passengers, base_url=base_url, token=token, with_labels=with_labels)
