"""Benchmark: drift_report_create() over 10k, 100k and 1M logged rows in PostgreSQL."""

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    RESULTS_DIR,
    database_url,
    django_env,
    machine_info,
    migrate,
    scratch_database,
    scratch_name,
)

# The script is a tool, not the app: point Django at a scratch database before it starts.
DB_PREFIX = "bench_drift"
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-drift-"))
ENV = django_env(database_url(scratch_name(DB_PREFIX)), SCRATCH)
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.core.features import FEATURES  # noqa: E402
from apps.monitoring import psi  # noqa: E402
from apps.monitoring.models import DriftBaseline, DriftReport, NoiseFloor  # noqa: E402
from apps.monitoring.services.baselines import drift_baseline_for  # noqa: E402
from apps.monitoring.services.drift_checks import (  # noqa: E402
    _bin_case,
    drift_report_create,
    window_counts,
)
from apps.serving.models import InferenceLog  # noqa: E402
from apps.training.contract import parse_dataset  # noqa: E402
from tests.factories import model_version_install  # noqa: E402

RESULTS = RESULTS_DIR / "drift_scale.json"
CSV_PATH = ROOT / "data" / "titanic.csv"
TARGET_SECONDS = 5.0
CHUNK_ROWS = 100_000
COPY_SQL = (
    "COPY serving_inferencelog (request_id, created_at, model_version, pclass, sex, age, sibsp, "
    "parch, fare, embarked, prob_survive, label, latency_ms) FROM STDIN WITH (FORMAT csv)"
)


def titanic_rows() -> list[dict[str, Any]]:
    """The training rows the baseline is built from (the built-in copy if data/ has none)."""
    if CSV_PATH.exists():
        return parse_dataset(CSV_PATH.read_bytes()).rows
    from apps.training.dataset import builtin_titanic_bytes

    return parse_dataset(builtin_titanic_bytes(ROOT / "var" / "cache")).rows


# --- synthetic traffic --------------------------------------------------------------------


def _cell(value: Any) -> str:
    return "" if value is None else str(value)  # an unquoted empty CSV field is NULL to COPY


def insert_rows(rows: list[dict[str, Any]], count: int, now: datetime, seed: int) -> float:
    """COPY `count` rows resampled from the training rows (no drift) into the log; seconds."""
    rng = np.random.default_rng(seed)
    cells = {name: np.array([_cell(row[name]) for row in rows], dtype=object) for name in FEATURES}
    end = np.datetime64(now.replace(tzinfo=None), "us")
    started = time.perf_counter()
    for offset in range(0, count, CHUNK_ROWS):
        size = min(CHUNK_ROWS, count - offset)
        picks = rng.integers(0, len(rows), size)
        ids = rng.bytes(16 * size).hex()
        # Spread over the last 23 h so every row falls inside the 24 h drift window at `now`.
        ages = (rng.uniform(60, 23 * 3600, size) * 1e6).astype("timedelta64[us]")
        stamps = np.datetime_as_string(end - ages, unit="us")
        probs = rng.random(size)
        columns = [cells[name][picks] for name in FEATURES]
        lines = [
            f"{ids[32 * i : 32 * i + 32]},{stamps[i]}+00,1,{','.join(c[i] for c in columns)},"
            f"{probs[i]:.4f},{int(probs[i] > 0.5)},1.0\n"
            for i in range(size)
        ]
        with connection.cursor() as cursor:
            cursor.copy_expert(COPY_SQL, io.StringIO("".join(lines)))
    with connection.cursor() as cursor:
        # Autovacuum would do this on a live table; without it the first scan sets hint bits.
        cursor.execute("VACUUM (ANALYZE) serving_inferencelog")
    return time.perf_counter() - started


# --- timing -------------------------------------------------------------------------------


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def _report(now: datetime) -> DriftReport:
    # A conclusive report moves the next window's start to its end: start each call afresh.
    DriftReport.objects.all().delete()
    return drift_report_create(trigger="bench", now=now)


def grouping_sets_counts(baseline: psi.Baseline, now: datetime) -> dict[str, np.ndarray]:
    """The same histograms from ONE scan: bin all features per row, GROUPING SETS per feature."""
    names = list(baseline["features"])
    aliases = {name: f"b{i}" for i, name in enumerate(names)}
    rows = InferenceLog.objects.filter(
        model_version=1, created_at__gt=now - timedelta(hours=24), created_at__lte=now
    ).order_by()
    binned = rows.annotate(
        **{aliases[n]: _bin_case(n, f) for n, f in baseline["features"].items()}
    ).values(*aliases.values())
    inner, params = binned.query.sql_with_params()
    sets = ", ".join(f"({alias})" for alias in aliases.values())
    query = (
        f"SELECT {', '.join(aliases.values())}, GROUPING({', '.join(aliases.values())}), "  # noqa: S608 (built from constants)
        f"count(*) FROM ({inner}) AS t GROUP BY GROUPING SETS ({sets})"
    )
    counts = {
        n: np.zeros(psi.bin_count(f), dtype=np.int64) for n, f in baseline["features"].items()
    }
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for record in cursor.fetchall():
            bins, mask, n = record[: len(names)], record[len(names)], record[-1]
            # GROUPING() has a 0 bit for the one column this row is grouped by.
            position = next(i for i in range(len(names)) if not mask >> (len(names) - 1 - i) & 1)
            counts[names[position]][bins[position]] = n
    return counts


def per_feature_seconds(baseline: psi.Baseline, now: datetime) -> dict[str, float]:
    """Seconds of each feature's GROUP BY alone (window_counts runs one per feature)."""
    rows = InferenceLog.objects.filter(
        model_version=1, created_at__gt=now - timedelta(hours=24), created_at__lte=now
    )
    found = {}
    for name, feature in baseline["features"].items():
        grouped = rows.annotate(drift_bin=_bin_case(name, feature)).values("drift_bin")
        query = grouped.annotate(n=Count("id")).order_by()
        found[name] = _timed(lambda q=query: list(q))[0]
    return found


def explain(baseline: psi.Baseline, start: datetime, end: datetime) -> str:
    """EXPLAIN ANALYZE of the Age GROUP BY (the most CASE branches) over (start, end]."""
    rows = InferenceLog.objects.filter(model_version=1, created_at__gt=start, created_at__lte=end)
    grouped = rows.annotate(drift_bin=_bin_case("Age", baseline["features"]["Age"]))
    query = grouped.values("drift_bin").annotate(n=Count("id")).order_by()
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


def measure_size(size: int, baseline: DriftBaseline, now: datetime, repeats: int) -> dict[str, Any]:
    """Cold call (simulates and caches the noise floor), then cached calls, then the parts."""
    NoiseFloor.objects.filter(baseline=baseline, window_rows=size).delete()
    first, report = _timed(lambda: _report(now))
    assert report.rows == size, f"the window saw {report.rows} rows, expected {size}"
    cached = [_timed(lambda: _report(now))[0] for _ in range(repeats)]
    simulation = _timed(lambda: psi.noise_floors(baseline.baseline, size))[0]
    window = [
        _timed(
            lambda: window_counts(
                baseline.baseline, version=1, start=now - timedelta(hours=24), end=now
            )
        )[0]
        for _ in range(repeats)
    ]
    reference = window_counts(
        baseline.baseline, version=1, start=now - timedelta(hours=24), end=now
    )[1]
    sets = [_timed(lambda: grouping_sets_counts(baseline.baseline, now)) for _ in range(repeats)]
    same = all(np.array_equal(sets[-1][1][n], reference[n]) for n in reference)
    return {
        "rows": size,
        "verdict": report.verdict,
        "max_psi": report.max_psi,
        "first_call_s": first,
        "report_median_s": statistics.median(cached),
        "report_runs_s": cached,
        "noise_floor_simulation_s": simulation,
        "window_counts_median_s": statistics.median(window),
        "grouping_sets_median_s": statistics.median(seconds for seconds, _ in sets),
        "grouping_sets_equal": same,
    }


# --- main -----------------------------------------------------------------------------------


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k and 50k rows only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.sizes = "10000,50000"
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Champion + baseline, then grow the log to each size and time the check there."""
    migrate(ENV)
    rows = titanic_rows()
    profile_s, profile = _timed(lambda: psi.build_baseline(psi.rows_to_columns(rows)))
    champion = model_version_install(1, feature_profile=profile)
    baseline_s, baseline = _timed(lambda: drift_baseline_for(champion))
    baseline_s += profile_s
    now = timezone.now()
    results, inserted, insert_s = [], 0, {}
    for size in args.sizes:
        insert_s[size] = insert_rows(rows, size - inserted, now, seed=size)
        inserted = size
        results.append(measure_size(size, baseline, now, args.repeats))
        print(
            f"  {size:>9} rows: report {results[-1]['report_median_s']:.2f} s "
            f"(inserted in {insert_s[size]:.1f} s)",
            flush=True,
        )
    largest = args.sizes[-1]
    return {
        "baseline_rows": len(rows),
        "baseline_create_s": baseline_s,
        "insert_s": insert_s,
        "sizes": results,
        "per_feature_s_at_largest": per_feature_seconds(baseline.baseline, now),
        "explain_full_window": explain(baseline.baseline, now - timedelta(hours=24), now),
        "explain_last_hour": explain(baseline.baseline, now - timedelta(hours=1), now),
        "largest": largest,
    }


def _scan_kind(plan: str) -> str:
    """The scan nodes the planner chose for the log table (with the index, if any)."""
    nodes = [
        line.strip().removeprefix("->").strip().split("  (")[0]
        for line in plan.splitlines()
        if "Scan" in line and "serving_inferencelog" in line
    ]
    return " + ".join(nodes) or "?"


def print_table(outcome: dict[str, Any]) -> None:
    print(f"\n{'rows':>9}{'report':>9}{'first':>9}{'floors':>9}{'window':>9}{'1-scan':>9}  verdict")
    for r in outcome["sizes"]:
        print(
            f"{r['rows']:>9}{r['report_median_s']:>9.3f}{r['first_call_s']:>9.3f}"
            f"{r['noise_floor_simulation_s']:>9.3f}{r['window_counts_median_s']:>9.3f}"
            f"{r['grouping_sets_median_s']:>9.3f}  {r['verdict']}"
        )
    print(
        "(seconds: report = drift_report_create median with cached noise floors; first = first "
        "call at that size, simulating the floors; floors = psi.noise_floors alone; window = "
        "window_counts alone (7 GROUP BYs); 1-scan = the same counts with one GROUPING SETS query)"
    )
    per_feature = outcome["per_feature_s_at_largest"]
    print(
        f"\nper-feature GROUP BY at {outcome['largest']} rows: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in per_feature.items())
    )
    print(
        f"scan chosen: full 24 h window -> {_scan_kind(outcome['explain_full_window'])}; "
        f"last hour -> {_scan_kind(outcome['explain_last_hour'])}"
    )
    print("\nEXPLAIN (ANALYZE, BUFFERS), Age over the full window:")
    print(outcome["explain_full_window"])
    print("\nEXPLAIN (ANALYZE, BUFFERS), Age over the last hour:")
    print(outcome["explain_last_hour"])


def main() -> int:
    """Create the scratch database, measure every size, drop the database, print and write."""
    args = _parse_args()
    before = machine_info()
    code = before["code"]
    print(f"code {code['commit'][:10]}, apps/ modified: {code['apps_modified']}", flush=True)
    try:
        with scratch_database(DB_PREFIX):
            try:
                outcome = run(args)
            finally:
                connection.close()  # the drop needs no session left on the database
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print_table(outcome)
    at_largest = outcome["sizes"][-1]
    result = {
        "benchmark": "drift_scale",
        "target_seconds_at_1m": TARGET_SECONDS,
        "machine_before": before,
        "machine_after": {"loadavg": list(os.getloadavg())},
        "note": "2 cores shared with other work (see loadavg); PostgreSQL on the same machine",
        **outcome,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")
    if at_largest["rows"] >= 1_000_000:
        ok = at_largest["report_median_s"] <= TARGET_SECONDS
        print(
            f"target: drift_report_create at {at_largest['rows']} rows "
            f"{at_largest['report_median_s']:.2f} s (<= {TARGET_SECONDS:g} s) "
            f"{'ok' if ok else 'MISSED'}"
        )
    if not all(r["grouping_sets_equal"] for r in outcome["sizes"]):
        print("the one-scan variant disagrees with window_counts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
