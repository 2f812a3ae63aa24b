"""The portable model: a fitted Spark PipelineModel exported to plain data and scored with numpy.

`exporter` reads a saved PipelineModel's files (JSON + Parquet, no JVM), `format` fixes the file
format, `scorer` scores rows with the same rules as Spark. No Django, no pyspark: training imports
it to check parity at registration, serving imports it to score.
"""
