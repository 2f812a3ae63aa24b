"""The only package that imports pyspark. Import it from tasks and commands, never from web code."""
