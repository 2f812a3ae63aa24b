"""One SparkSession per process, configured for small tabular data on few cores."""

from pathlib import Path

from pyspark.sql import SparkSession


def spark_session(*, master: str, driver_memory: str, work_dir: Path) -> SparkSession:
    """Return the process's SparkSession, creating it on first use (nothing is downloaded)."""
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
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work_dir}")
        .config("spark.sql.session.timeZone", "UTC")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
