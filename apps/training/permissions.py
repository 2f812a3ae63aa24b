"""The training floor's permissions: one per action, the codename every door checks."""

# Put a new data version in place (API upload, ingest with an actor).
UPLOAD_DATA = "training.add_dataversion"
# Queue a training run (API, dashboard Retrain button).
START_TRAINING = "training.add_trainingrun"
# Approve, reject or roll back a promotion (dashboard, commands with --user).
APPROVE = "training.approve_modelversion"
# Look at the dashboard at all; defined here because the pages' shell has no models of its own.
VIEW_DASHBOARD = "training.view_dashboard"
