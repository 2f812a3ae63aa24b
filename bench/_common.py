"""Shared helpers for the PostgreSQL benchmarks: scratch databases, environments, statistics."""

import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
SECRET_KEY = "bench-only-" + "k" * 40  # a throwaway key; start-up refuses short ones


def database_url(name: str) -> str:
    """The DATABASE_URL of a database on the benchmark server."""
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def _admin() -> Any:
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    # CREATE/DROP DATABASE cannot run in a transaction; `with connection` would open one.
    connection.autocommit = True
    return connection


def scratch_name(prefix: str) -> str:
    """The name scratch_database(prefix) gives this process's database."""
    return f"{prefix}_{os.getpid()}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create a fresh database named `<prefix>_<pid>`, yield its name, always drop it."""
    name = scratch_name(prefix)
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with closing(_admin()) as admin, admin.cursor() as cursor:
            # FORCE ends connections a crashed run may have left behind (PostgreSQL 13+).
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def django_env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a project process (manage.py, gunicorn) against the scratch database."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TITANIC_VAR_DIR": str(var_dir),
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "titanic_ops.settings",
        # Nothing here may reach a real registry; the scorer files are already in var_dir.
        "MLFLOW_TRACKING_URI": f"sqlite:///{var_dir / 'mlflow.db'}",
        "DRIFT_RETRAIN_ON": "off",
    }
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    """Run the project's migrations in a subprocess (the caller may not have Django set up)."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def server_info() -> dict[str, Any]:
    """PostgreSQL version and the settings that decide commit latency and scans."""
    names = [
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "shared_buffers",
        "work_mem",
        "max_parallel_workers_per_gather",
        "jit",
    ]
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            (names,),
        )
        found = {name: f"{setting}{unit or ''}" for name, setting, unit in cursor.fetchall()}
    return {"server_version": version, **found}


def code_version() -> dict[str, Any]:
    """The commit measured, and whether apps/ differed from it (others edit the checkout)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "apps_modified": bool(git("status", "-s", "apps"))}


def machine_info() -> dict[str, Any]:
    """CPU count, load and versions: the context the numbers were measured in."""
    return {
        "code": code_version(),
        "cpus": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "postgres": server_info(),
    }
