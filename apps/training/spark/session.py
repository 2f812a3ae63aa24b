"""One SparkSession per process, configured for small tabular data on few cores.

A job holds the session through `spark_in_use`; when the last job lets go, a timer releases the
JVM (~1 GB resident) after an idle period, so an idle worker does not keep it. A session taken
with plain `spark_session` (tests, notebooks) is pinned: never released behind its holder's back.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark import SparkContext
from pyspark.sql import SparkSession

_lock = threading.Lock()
_users = 0
_pinned = False
_timer: threading.Timer | None = None
# Shipped with the project: the JVM logs errors only (no start-up warnings).
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def _build(*, master: str, driver_memory: str, work_dir: Path) -> SparkSession:
    work_dir.mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(master)
        .appName("titanic-ops")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.warehouse.dir", str(work_dir / "spark-warehouse"))
        .config("spark.local.dir", str(work_dir / "spark-local"))
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={work_dir} -Dlog4j2.configurationFile={LOG4J_CONFIG}",
        )
        .config("spark.sql.session.timeZone", "UTC")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_session(*, master: str, driver_memory: str, work_dir: Path) -> SparkSession:
    """Return the process's SparkSession, creating it on first use (nothing is downloaded)."""
    global _pinned
    with _lock:
        _pinned = True
        _cancel_timer()
        return _build(master=master, driver_memory=driver_memory, work_dir=work_dir)


def _cancel_timer() -> None:
    global _timer
    if _timer is not None:
        _timer.cancel()
        _timer = None


@contextmanager
def spark_in_use(
    *, master: str, driver_memory: str, work_dir: Path, idle_release_seconds: float = 0
) -> Iterator[SparkSession]:
    """The session for one job; released `idle_release_seconds` after the last one (0: kept)."""
    global _users, _timer
    with _lock:
        _users += 1
        _cancel_timer()
        try:
            session = _build(master=master, driver_memory=driver_memory, work_dir=work_dir)
        except BaseException:
            _users -= 1
            raise
    try:
        yield session
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and idle_release_seconds > 0 and not _pinned:
                _timer = threading.Timer(idle_release_seconds, spark_release_if_idle)
                _timer.daemon = True
                _timer.start()


def spark_release_scheduled() -> bool:
    return _timer is not None


def spark_release_if_idle() -> bool:
    """Stop the session and its JVM unless a job uses it or a caller pinned it."""
    global _timer
    with _lock:
        _timer = None
        if _users or _pinned or SparkContext._active_spark_context is None:
            return False
        gateway = SparkContext._gateway
        session = SparkSession._instantiatedSession
        if session is not None:
            session.stop()
        else:
            SparkContext._active_spark_context.stop()
        if gateway is not None:
            process = getattr(gateway, "proc", None)
            gateway.shutdown()
            if process is not None and process.stdin is not None:
                process.stdin.close()  # the JVM exits when its stdin closes
                process.wait(timeout=30)
        SparkContext._gateway = None
        SparkContext._jvm = None
        return True
