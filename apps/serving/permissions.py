"""The serving floor's permissions: one per action, the codename every door checks."""

# Give a logged prediction its true label (/feedback).
LABEL = "serving.label_inferencelog"
# Read the inference log's rows: the traffic page and its CSV export.
READ_TRAFFIC = "serving.view_inferencelog"
# Re-resolve and reload the champion in this process (/reload).
RELOAD = "serving.reload_champion"
