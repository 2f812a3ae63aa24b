"""Benchmark: /predict_titanic under gunicorn + PostgreSQL: saturation, 100 rps, audit, floor."""

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    PG_HOST,
    PG_PORT,
    PG_USER,
    RESULTS_DIR,
    database_url,
    django_env,
    machine_info,
    migrate,
    percentile,
    scratch_database,
)
from tests.support.processes import free_port, wait_for_http  # noqa: E402

RESULTS = RESULTS_DIR / "serve_load.json"
PATH = "/predict_titanic"
BODY = json.dumps(
    {"Pclass": 3, "Sex": "male", "Age": 22, "SibSp": 1, "Parch": 0, "Fare": 7.25, "Embarked": "S"}
).encode()
TARGET_P50_MS = 20.0
TARGET_P99_MS = 150.0
TARGET_FLOOR_FRACTION = 0.8
LATE_SEND_MS = 5.0  # a send that starts this long after its slot had no free connection
FLOOR_TABLE = "bench_floor_log"
LOG_TABLE = "serving_inferencelog"
CPUS = os.cpu_count() or 1


# --- servers ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[psutil.Process]:
        """The gunicorn worker processes (the master only supervises)."""
        return psutil.Process(self.process.pid).children()


@contextmanager
def gunicorn(
    name: str, app: str, env: dict[str, str], workers: int, logs: Path, extra: list[str]
) -> Iterator[Server]:
    """Serve `app` with gunicorn on a free loopback port; stop it afterwards."""
    port = free_port()
    log = logs / f"gunicorn-{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--graceful-timeout",
        "10",
        *extra,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", 60)
        yield Server(name, port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load generator ---------------------------------------------------------------------


@dataclass
class Outcome:
    request_id: str
    status: int  # 0: no HTTP answer (connection error or timeout)
    latency_ms: float  # from the scheduled send time in the open loop, else from the send
    late_ms: float = 0.0  # open loop: how long after its slot the send actually began
    echoed: bool = True  # the answer carries the request id we sent


class Connection:
    """One client's keep-alive HTTP connection; it reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, due: float | None = None) -> Outcome:
        request_id = str(uuid.uuid4())
        headers = {"Content-Type": "application/json", "X-Request-ID": request_id}
        started = time.perf_counter()
        try:
            self.http.request("POST", PATH, BODY, headers)
            response = self.http.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.http.close()
            status, data = 0, b""
        finished = time.perf_counter()
        origin = started if due is None else due
        return Outcome(
            request_id,
            status,
            (finished - origin) * 1000,
            late_ms=0.0 if due is None else (started - due) * 1000,
            echoed=status != 200 or request_id.encode() in data,
        )


def closed_loop(port: int, *, clients: int, seconds: float) -> tuple[list[Outcome], float]:
    """`clients` connections each send the next request as soon as the last one is answered."""
    barrier = threading.Barrier(clients + 1)
    results: list[list[Outcome]] = [[] for _ in range(clients)]
    deadline = [0.0]

    def run(slot: int) -> None:
        connection = Connection(port)
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            results[slot].append(connection.post())

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return [item for chunk in results for item in chunk], time.perf_counter() - started


def open_loop(port: int, *, rate: float, seconds: float, clients: int) -> list[Outcome]:
    """Send request i at t0 + i/rate whatever happened before; latency counts from the slot."""
    total = int(rate * seconds)
    counter = itertools.count()
    lock = threading.Lock()
    results: list[list[Outcome]] = [[] for _ in range(clients)]
    t0 = time.perf_counter() + 0.2

    def run(slot: int) -> None:
        connection = Connection(port)
        while True:
            with lock:
                index = next(counter)
            if index >= total:
                return
            due = t0 + index / rate
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            results[slot].append(connection.post(due))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [item for chunk in results for item in chunk]


# --- CPU accounting: who burns the cores per request ----------------------------------------


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _backends(dbname: str) -> list[psutil.Process]:
    with (
        closing(psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")) as c,
        c.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend'",
            (dbname,),
        )
        pids = [row[0] for row in cursor.fetchall()]
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]


@dataclass
class CpuSnapshot:
    at: float
    machine_busy: float
    client: float
    workers: dict[int, float]
    backends: dict[int, float]


def _per_pid(processes: list[psutil.Process]) -> dict[int, float]:
    found = {}
    for process in processes:
        try:
            found[process.pid] = _cpu_seconds(process)
        except psutil.Error:
            continue  # it exited between listing and reading
    return found


def cpu_snapshot(server: Server, dbname: str) -> CpuSnapshot:
    machine = psutil.cpu_times()
    idle = machine.idle + getattr(machine, "iowait", 0.0)
    return CpuSnapshot(
        at=time.perf_counter(),
        machine_busy=sum(machine) - idle,
        client=time.process_time(),
        workers=_per_pid(server.workers()),
        backends=_per_pid(_backends(dbname)),
    )


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process first seen at the end started during the phase (or idled): count all of it.
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by owner, and the wall time between them."""
    return {
        "gunicorn_workers": _delta(before.workers, after.workers),
        "postgres_backends": _delta(before.backends, after.backends),
        "load_client": after.client - before.client,
        "machine_total": after.machine_busy - before.machine_busy,
        "wall": after.at - before.at,
    }


def cpu_per_request(parts: list[dict[str, float]], requests: int) -> dict[str, float]:
    """CPU milliseconds per request by owner, and the machine's busy share of its cores."""
    total = {key: sum(part[key] for part in parts) for key in parts[0]}
    wall = total.pop("wall")
    per_request = {f"{k}_ms_per_req": v * 1000 / max(requests, 1) for k, v in total.items()}
    ours = total["gunicorn_workers"] + total["postgres_backends"] + total["load_client"]
    return {
        **per_request,
        "machine_busy_pct": 100 * total["machine_total"] / (wall * CPUS),
        # Everything else that ran meanwhile: other people's jobs, PostgreSQL's WAL writer, kernel.
        "other_cores": (total["machine_total"] - ours) / wall,
    }


# --- phases ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    target: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    rounds_rps: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Throughput and latency percentiles of the answered requests, plus failures."""
        ok = [o.latency_ms for o in self.outcomes if o.status == 200]
        statuses: dict[str, int] = {}
        for o in self.outcomes:
            statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
        return {
            "name": self.name,
            "target": self.target,
            "requests": len(self.outcomes),
            "ok": len(ok),
            "failed": len(self.outcomes) - len(ok),
            "statuses": statuses,
            "seconds": self.seconds,
            "rps": len(ok) / self.seconds if self.seconds else 0.0,
            "rounds_rps": self.rounds_rps,
            "p50_ms": percentile(ok, 50),
            "p95_ms": percentile(ok, 95),
            "p99_ms": percentile(ok, 99),
            "max_ms": max(ok, default=float("nan")),
            "late_sends": sum(o.late_ms > LATE_SEND_MS for o in self.outcomes),
            "max_late_ms": max((o.late_ms for o in self.outcomes), default=0.0),
            "over_p99_target": sum(o.latency_ms > TARGET_P99_MS for o in self.outcomes),
            "not_echoed": sum(not o.echoed for o in self.outcomes),
            "cpu": self.cpu,
        }


def warm_up(server: Server, seconds: float) -> list[Outcome]:
    """Let every worker open its connection and load the champion before anything is timed."""
    outcomes, _ = closed_loop(server.port, clients=4, seconds=seconds)
    bad = [o.status for o in outcomes if o.status != 200]
    if bad:
        tail = server.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{server.name}: warm-up answered {bad[:5]}...\n{tail}")
    return outcomes


def saturation(servers: list[Server], dbname: str, args: argparse.Namespace) -> list[Phase]:
    """Closed-loop rounds, alternating targets so slow swings in neighbour load hit all alike."""
    phases = {s.name: Phase(f"saturation {args.clients} clients", s.name) for s in servers}
    per_round = args.saturation_seconds / args.rounds
    used: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    for _ in range(args.rounds):
        for server in servers:
            before = cpu_snapshot(server, dbname)
            outcomes, seconds = closed_loop(server.port, clients=args.clients, seconds=per_round)
            used[server.name].append(cpu_used(before, cpu_snapshot(server, dbname)))
            phase = phases[server.name]
            phase.outcomes += outcomes
            phase.seconds += seconds
            phase.rounds_rps.append(sum(o.status == 200 for o in outcomes) / seconds)
    for name, phase in phases.items():
        phase.cpu = cpu_per_request(used[name], len(phase.outcomes))
    return list(phases.values())


def open_loop_phase(server: Server, dbname: str, args: argparse.Namespace) -> Phase:
    """Fixed-rate arrivals for args.open_seconds; queueing delay counts in the latency."""
    phase = Phase(f"open loop {args.rate:g} rps", server.name)
    before = cpu_snapshot(server, dbname)
    started = time.perf_counter()
    phase.outcomes = open_loop(
        server.port, rate=args.rate, seconds=args.open_seconds, clients=args.open_clients
    )
    phase.seconds = time.perf_counter() - started
    used = cpu_used(before, cpu_snapshot(server, dbname))
    phase.cpu = cpu_per_request([used], len(phase.outcomes))
    return phase


# --- audit ----------------------------------------------------------------------------------


def audit(dbname: str, table: str, outcomes: list[Outcome]) -> dict[str, int]:
    """Every 200 has exactly one row with its request id; nothing else left a row."""
    answered = {o.request_id for o in outcomes if o.status == 200}
    refused = {o.request_id for o in outcomes if o.status not in (0, 200)}
    unanswered = {o.request_id for o in outcomes if o.status == 0}
    sent = answered | refused | unanswered
    with (
        closing(psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname)) as c,
        c.cursor() as cursor,
    ):
        cursor.execute(
            f"SELECT request_id::text, count(*) FROM {table} "  # noqa: S608 (constant names)
            "WHERE request_id = ANY(%s::uuid[]) GROUP BY 1",
            (list(sent),),
        )
        rows = dict(cursor.fetchall())
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        total = cursor.fetchone()[0]
    return {
        "answered_200": len(answered),
        "rows_found_for_200": sum(1 for rid in answered if rid in rows),
        "lost_rows": sum(1 for rid in answered if rid not in rows),
        "duplicate_rows": sum(1 for count in rows.values() if count > 1),
        "rows_for_non_200": sum(1 for rid in refused if rid in rows),
        "rows_for_unanswered": sum(1 for rid in unanswered if rid in rows),
        "unanswered": len(unanswered),
        "rows_not_sent_by_us": total - sum(rows.values()),
    }


def audit_ok(result: dict[str, int]) -> bool:
    """No lost, duplicated, orphaned or unexplained rows."""
    return not any(
        result[key]
        for key in ("lost_rows", "duplicate_rows", "rows_for_non_200", "rows_not_sent_by_us")
    )


# --- the in-process breakdown ---------------------------------------------------------------


def probe(mode: str, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """Run bench._serve_probe in its own interpreter and return its JSON answer."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench._serve_probe", mode, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"_serve_probe {mode} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- report ---------------------------------------------------------------------------------


def _fmt(value: float, width: int, digits: int = 1) -> str:
    return f"{value:>{width}.{digits}f}"


def print_tables(
    phases: list[dict[str, Any]], audits: dict[str, Any], verdict: dict[str, Any]
) -> None:
    print(
        f"\n{'phase':<27}{'target':<16}{'ok':>7}{'fail':>6}{'rps':>8}"
        f"{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'late':>6}{'>150':>6}"
    )
    for p in phases:
        print(
            f"{p['name']:<27}{p['target']:<16}{p['ok']:>7}{p['failed']:>6}{_fmt(p['rps'], 8)}"
            f"{_fmt(p['p50_ms'], 8)}{_fmt(p['p95_ms'], 8)}{_fmt(p['p99_ms'], 8)}"
            f"{_fmt(p['max_ms'], 8)}{p['late_sends']:>6}{p['over_p99_target']:>6}"
        )
    print("(latency in ms; open loop measured from the scheduled send time)")
    for p in phases:
        if p["rounds_rps"]:
            rounds = ", ".join(f"{rps:.0f}" for rps in p["rounds_rps"])
            print(f"  {p['target']:<14} requests/s per alternating round: {rounds}")
    print(
        f"\nCPU ms per request            {'worker':>8}{'pg':>8}{'client':>8}"
        f"{'machine':>9}{'busy%':>7}{'other cores':>13}"
    )
    for p in phases:
        cpu = p["cpu"]
        print(
            f"{p['name'][:14] + ' ' + p['target']:<29}"
            f"{_fmt(cpu['gunicorn_workers_ms_per_req'], 8, 2)}"
            f"{_fmt(cpu['postgres_backends_ms_per_req'], 8, 2)}"
            f"{_fmt(cpu['load_client_ms_per_req'], 8, 2)}"
            f"{_fmt(cpu['machine_total_ms_per_req'], 9, 2)}{_fmt(cpu['machine_busy_pct'], 7, 0)}"
            f"{_fmt(cpu['other_cores'], 13, 2)}"
        )
    print("\naudit (inference log rows vs answers)")
    for name, result in audits.items():
        print(f"  {name:<18}" + ", ".join(f"{k}={v}" for k, v in result.items()))
    print("\ntargets")
    for name, item in verdict.items():
        print(f"  {name:<34}{item['value']:>10.3f}  (target {item['target']})  {item['status']}")


def print_breakdown(breakdowns: dict[str, dict[str, Any]]) -> None:
    print("\nin-process breakdown of one prediction (no HTTP; medians in us: wall, process CPU)")
    first = next(iter(breakdowns.values()))
    names = [key[:-3] for key in first if key.endswith("_us") and not key.endswith("_cpu_us")]
    header = "".join(f"{f'wall {t}':>17}{f'cpu {t}':>17}" for t in breakdowns)
    print(f"  {'throttle ->':<26}{header}")
    for name in names:
        cells = "".join(
            f"{b[f'{name}_us']:>17.0f}{b[f'{name}_cpu_us']:>17.0f}" for b in breakdowns.values()
        )
        print(f"  {name:<26}{cells}")
    for name, b in breakdowns.items():
        costs = ", ".join(f"{m} {us:.0f}" for m, us in b["middleware_cpu_us"].items())
        print(f"  CPU us each middleware adds (full stack minus it), throttle {name}: {costs}")
    for name, b in breakdowns.items():
        print(
            f"  SQL statements per request, throttle {name}: {len(b['queries_steady'])} "
            f"(+{len(b['queries_with_version_check']) - len(b['queries_steady'])} once per "
            f"{b['version_check_seconds']:g} s per worker for the version check)"
        )


# --- main -----------------------------------------------------------------------------------


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop connections")
    parser.add_argument("--saturation-seconds", type=float, default=15.0, help="per target")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s")
    parser.add_argument("--open-seconds", type=float, default=30.0)
    parser.add_argument("--open-clients", type=int, default=32, help="open-loop connections")
    parser.add_argument("--probe-repeats", type=int, default=300)
    parser.add_argument("--no-throttle-variant", action="store_true", help="skip api+throttle")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.saturation_seconds, args.rounds, args.open_seconds = 3.0, 1, 5.0
        args.probe_repeats = 50
    return args


def _verdict(phases: list[Phase], audits: dict[str, dict[str, int]]) -> dict[str, Any]:
    by_key = {(p.name.split()[0], p.target): p.summary() for p in phases}
    api, floor = by_key[("saturation", "api")], by_key[("saturation", "floor")]
    paced = by_key[("open", "api")]
    fraction = api["rps"] / floor["rps"] if floor["rps"] else 0.0
    lost = audits["api"]["lost_rows"] + audits["floor"]["lost_rows"]

    def item(value: float, target: str, passed: bool) -> dict[str, Any]:
        return {"value": value, "target": target, "status": "ok" if passed else "MISSED"}

    return {
        "open loop p50 ms": item(paced["p50_ms"], "<= 20", paced["p50_ms"] <= TARGET_P50_MS),
        "open loop p99 ms": item(paced["p99_ms"], "<= 150", paced["p99_ms"] <= TARGET_P99_MS),
        "saturation api / floor": item(fraction, ">= 0.8", fraction >= TARGET_FLOOR_FRACTION),
        "lost rows": item(lost, "== 0", lost == 0),
    }


def run(args: argparse.Namespace, scratch: Path, dbname: str) -> dict[str, Any]:
    """Everything between creating and dropping the scratch database."""
    (scratch / "static").mkdir()  # whitenoise warns on every start without it
    base_env = django_env(database_url(dbname), scratch)
    env = {**base_env, "PREDICT_THROTTLE_RATE": "0"}
    migrate(env)
    setup = probe("setup", env)
    specs = [("api", "titanic_ops.wsgi:application", env)]
    specs.append(("floor", "bench._floor_app:application", {**env, "FLOOR_TABLE": FLOOR_TABLE}))
    if not args.no_throttle_variant:
        # The shipped default rate: the throttle's shared-cache reads and writes are on.
        specs.append(("api+throttle", "titanic_ops.wsgi:application", base_env))
    sent: dict[str, list[Outcome]] = {name: [] for name, _, _ in specs}
    with servers_up(specs, args, scratch) as servers:
        for server in servers:
            sent[server.name] += warm_up(server, 2.0)
        phases = saturation(servers, dbname, args)
        phases.append(open_loop_phase(servers[0], dbname, args))
    for phase in phases:
        sent[phase.target] += phase.outcomes
    audits = {
        "api": audit(dbname, LOG_TABLE, sent["api"] + sent.get("api+throttle", [])),
        "floor": audit(dbname, FLOOR_TABLE, sent["floor"]),
    }
    breakdowns = {"off": probe("measure", env, str(args.probe_repeats))}
    if not args.no_throttle_variant:
        breakdowns["20000/min"] = probe("measure", base_env, str(args.probe_repeats))
    return {"setup": setup, "phases": phases, "audits": audits, "breakdowns": breakdowns}


@contextmanager
def servers_up(
    specs: list[tuple[str, str, dict[str, str]]], args: argparse.Namespace, logs: Path
) -> Iterator[list[Server]]:
    """All servers up at once (idle workers cost nothing), so rounds can alternate."""
    extra = ["--worker-class", args.worker_class, "--threads", str(args.threads)]
    with ExitStack() as stack:
        yield [
            stack.enter_context(gunicorn(name, app, env, args.workers, logs, extra))
            for name, app, env in specs
        ]


def main() -> int:
    """Run every phase against fresh servers and a scratch database; print, write, judge."""
    args = _parse_args()
    before = machine_info()
    code = before["code"]
    print(f"code {code['commit'][:10]}, apps/ modified: {code['apps_modified']}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch_dir,
        scratch_database("bench_serve") as dbname,
    ):
        outcome = run(args, Path(scratch_dir), dbname)
    phases = [phase.summary() for phase in outcome["phases"]]
    verdict = _verdict(outcome["phases"], outcome["audits"])
    print_tables(phases, outcome["audits"], verdict)
    print_breakdown(outcome["breakdowns"])
    result = {
        "benchmark": "serve_load",
        "settings": {k: str(v) for k, v in vars(args).items()},
        "machine_before": before,
        "machine_after": {"loadavg": list(os.getloadavg())},
        "note": "2 cores shared with other work (see loadavg); client, gunicorn and PostgreSQL "
        "run on the same machine",
        "setup": outcome["setup"],
        "phases": phases,
        "audits": outcome["audits"],
        "breakdowns": outcome["breakdowns"],
        "targets": verdict,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    failed = [name for name in ("api", "floor") if not audit_ok(outcome["audits"][name])]
    if failed:
        print(f"AUDIT FAILED for {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
