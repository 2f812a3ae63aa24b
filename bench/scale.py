"""Benchmark by size: ingest, preprocessing, quick training + registration, a drift check over
logged traffic and a label-driven retrain.

Data (deterministic): `apps.training.synthetic` resamples the Kaggle rows with replacement
(numpy seed 2026), jitters present Age by +-2 years and Fare by +-10% (to the cent), and
renumbers PassengerId. Each size runs in a fresh var directory with its own SQLite database and
MLflow store; each phase is its own process (`manage.py ...`, or this script's `--phase`), and a
sampler reads the RSS of the phase's Python process (the driver), of its JVM child and of any
other child (Spark's Python workers, dvc) every 0.2 s (psutil).

Phases: `ingest_data`; LR preprocessing fit + transform; `train --profile quick` with every
family of the profile (lr, rf, gbt; `--families` narrows it) including registration and the
gate; then 2,000 predictions of the champion are logged and 500 of them labelled by a labeller
(set-up, not timed); `drift_check`; and the label-driven retrain: the current CSV streamed into
a new data version with the labelled rows appended, ingested, trained (`--retrain-families`,
lr by default so the phase stays bounded; `all` for the profile's families) and registered.

Usage: python bench/scale.py [--rows 100000,1000000] [--families lr,rf,gbt] [--keep]
Prints a table of wall time and peak RSS per phase and process, then the growth exponent
log(t2/t1)/log(n2/n1) of each phase's time between consecutive sizes (1.0 = linear).
"""

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scale.json"
SEED = 2026
TRAFFIC_ROWS = 2_000
LABELLED_ROWS = 500  # of the logged predictions, labelled before the retrain
LABELLER = "bench-labeller"
MB = 1024 * 1024


@dataclass
class Phase:
    rows: int
    phase: str
    seconds: float
    python_peak_mb: float
    jvm_peak_mb: float
    other_peak_mb: float = 0.0
    other_peak_process: str = ""  # name and first arguments of the process behind other_peak_mb


def _describe(member: psutil.Process) -> str:
    try:
        return " ".join([member.name(), *member.cmdline()[1:4]])[:120]
    except psutil.Error:
        return "?"


def _sample_peaks(
    process: psutil.Process, stop: threading.Event, peaks: dict[str, float], who: dict[str, str]
) -> None:
    """Peak RSS of the phase's own Python process, of its JVM, and of any other child."""
    while not stop.is_set():
        try:
            tree = [process, *process.children(recursive=True)]
        except psutil.Error:
            return
        for member in tree:
            try:
                if member.pid == process.pid:
                    name = "python"
                # By executable: the JVM's process name can read as one of its threads' names
                # ("Thread-3"), which once put the JVM's whole RSS under "other".
                elif Path(member.exe()).name == "java":
                    name = "jvm"
                else:
                    name = "other"  # Spark's Python workers, dvc, the JVM's launcher shell
                rss = member.memory_info().rss / MB
            except psutil.Error:
                continue
            if rss > peaks.get(name, 0.0):
                peaks[name] = rss
                if name == "other":
                    who[name] = _describe(member)
        stop.wait(0.2)


def _run(rows: int, phase: str, argv: list[str], env: dict[str, str]) -> Phase:
    peaks: dict[str, float] = {}
    who: dict[str, str] = {}
    stop = threading.Event()
    started = time.perf_counter()
    process = psutil.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = threading.Thread(target=_sample_peaks, args=(process, stop, peaks, who), daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode not in (0, 42):
        sys.stderr.write(out.decode()[-3000:] + err.decode()[-3000:])
        raise SystemExit(f"{phase} at {rows} rows failed with exit code {process.returncode}")
    return Phase(
        rows,
        phase,
        seconds,
        peaks.get("python", 0.0),
        peaks.get("jvm", 0.0),
        peaks.get("other", 0.0),
        who.get("other", ""),
    )


def _preprocess(csv_path: Path) -> None:
    """Fit and apply the LR preprocessing stages on the training split (Spark, no collect)."""
    from pyspark.ml import Pipeline

    from apps.training.spark.pipeline import evaluation_split, load_typed, preprocessing_stages
    from apps.training.spark.session import spark_session

    spark = spark_session(
        master=os.environ.get("SPARK_MASTER", "local[*]"),
        driver_memory=os.environ.get("SPARK_DRIVER_MEMORY", "2g"),
        work_dir=Path(os.environ["TITANIC_VAR_DIR"]) / "spark",
    )
    train, _ = evaluation_split(load_typed(spark, csv_path))
    model = Pipeline(stages=preprocessing_stages("lr")).fit(train)
    print(model.transform(train).count())
    spark.stop()


def _log_traffic() -> None:
    """Log TRAFFIC_ROWS predictions of the champion (a sample of the data set) for the check."""
    import django

    django.setup()
    import uuid

    from apps.core.features import LOG_COLUMNS
    from apps.serving.models import InferenceLog
    from apps.training.contract import sample_dataset
    from apps.training.selectors.data_versions import data_version_current
    from apps.training.selectors.model_versions import model_version_champion
    from apps.training.services.data_versions import data_version_path
    from apps.training.services.model_versions import model_version_scorer

    champion = model_version_champion()
    assert champion is not None, "no champion after training"
    rows = sample_dataset(data_version_path(data_version_current()), size=TRAFFIC_ROWS, seed=SEED)
    scores = model_version_scorer(champion).predict_proba(rows)
    InferenceLog.objects.bulk_create(
        InferenceLog(
            request_id=uuid.uuid4(),
            model_version=champion.version,
            **{column: row[name] for name, column in LOG_COLUMNS.items()},
            prob_survive=float(p),
            label=int(p > 0.5),
            latency_ms=1.0,
        )
        for row, p in zip(rows, scores, strict=True)
    )
    _label(rows[:LABELLED_ROWS])


def _label(rows: list[dict[str, object]]) -> None:
    """Label the first logged predictions with their rows' outcomes, as a labeller would."""
    from django.contrib.auth import get_user_model

    from apps.monitoring.services.roles import role_grant, roles_setup
    from apps.serving.models import InferenceLog
    from apps.serving.services import feedback_record

    roles_setup()
    user, _ = get_user_model().objects.get_or_create(username=LABELLER)
    role_grant(username=LABELLER, role="labeller")
    logged = InferenceLog.objects.order_by("id").values_list("request_id", flat=True)
    for request_id, row in zip(logged[: len(rows)], rows, strict=True):
        survived = int(str(row["Survived"]))
        feedback_record(request_id=request_id, survived=survived, user=user, via="bench")


def _retrain(families: str) -> None:
    """Label-driven retrain: current data + labelled rows (streamed), ingest, train, register."""
    import django

    django.setup()
    from apps.monitoring.services.retraining import labelled_data_version_create
    from apps.training.models import TrainingRun
    from apps.training.services.training_jobs import training_run_execute
    from apps.training.services.training_runs import training_run_request

    data_version, added = labelled_data_version_create(note="bench")
    assert added == LABELLED_ROWS, added
    run = training_run_request(
        profile="quick",
        families=None if families == "all" else families,
        trigger=TrainingRun.Trigger.DRIFT,
        data_version=data_version,
    )
    run = training_run_execute(run_id=run.pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error


def _size(rows: int, base: Path, *, families: str, retrain_families: str) -> list[Phase]:
    from apps.training.dataset import builtin_titanic_bytes
    from apps.training.synthetic import synthetic_titanic_write

    var = base / f"rows-{rows}"
    var.mkdir(parents=True)
    source = builtin_titanic_bytes(ROOT / "var" / "cache")
    csv_path = synthetic_titanic_write(source=source, rows=rows, seed=SEED, path=base / "in.csv")
    env = {
        **os.environ,
        "TITANIC_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{var / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": (var / "mlartifacts").as_uri(),
        "TITANIC_DVC_ROOT": str(var / "repo"),
        "DVC_REMOTE_URL": str(var / "dvc-remote"),
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only-" + "k" * 40),
        "AUTO_PROMOTE_TITANIC": "true",
        "DRIFT_RETRAIN_ON": "off",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    train = [*manage, "train", "--profile", "quick"]
    if families != "all":
        train += ["--families", families]
    phases = [
        _run(rows, "ingest", [*manage, "ingest_data", str(csv_path)], env),
        _run(rows, "preprocessing", [*me, "--phase", "preprocess", str(csv_path)], env),
        _run(rows, "train+register", train, env),
    ]
    subprocess.run([*me, "--phase", "log-traffic"], cwd=ROOT, env=env, check=True)
    phases.append(_run(rows, "drift check", [*manage, "drift_check", "--json"], env))
    retrain = [*me, "--phase", "retrain", "--retrain-families", retrain_families]
    phases.append(_run(rows, "label retrain", retrain, env))
    csv_path.unlink()
    for phase in phases:
        print(
            f"{phase.rows:>11,} {phase.phase:<15} {phase.seconds:9.1f} s "
            f"{phase.python_peak_mb:8.0f} MB {phase.jvm_peak_mb:8.0f} MB "
            f"{phase.other_peak_mb:8.0f} MB  {phase.other_peak_process}",
            flush=True,
        )
    return phases


def _exponents(results: list[Phase]) -> list[str]:
    lines = []
    names = dict.fromkeys(phase.phase for phase in results)
    sizes = sorted({phase.rows for phase in results})
    by = {(p.rows, p.phase): p.seconds for p in results}
    for low, high in itertools.pairwise(sizes):
        for name in names:
            exponent = math.log(by[(high, name)] / by[(low, name)]) / math.log(high / low)
            lines.append(f"{low:,} -> {high:,} {name:<15} time exponent {exponent:5.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument(
        "--families", default="all", help="families of the quick training (default: all)"
    )
    parser.add_argument(
        "--retrain-families",
        default="lr",
        help="families of the label-driven retrain (default lr, to bound it; 'all' for every)",
    )
    parser.add_argument(
        "--phase", choices=["preprocess", "log-traffic", "retrain"], help=argparse.SUPPRESS
    )
    parser.add_argument("csv", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the var directories")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "titanic_ops.settings")
    if args.phase == "preprocess":
        return _preprocess(args.csv)
    if args.phase == "log-traffic":
        return _log_traffic()
    if args.phase == "retrain":
        return _retrain(args.retrain_families)
    print(f"{'rows':>11} {'phase':<15} {'wall':>11} {'python':>11} {'jvm':>11} {'other':>11}")
    base = Path(tempfile.mkdtemp(prefix="titanic-scale-"))
    results: list[Phase] = []
    try:
        for rows in sorted(int(value) for value in args.rows.split(",")):
            results += _size(
                rows, base, families=args.families, retrain_families=args.retrain_families
            )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    for line in _exponents(results):
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([asdict(phase) for phase in results], indent=2))


if __name__ == "__main__":
    main()
