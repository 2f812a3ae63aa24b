"""The dashboard's URL map (namespace `dashboard`): the shell's pages, each app's pages, login."""

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.dashboard import views as shell
from apps.monitoring import views as monitoring
from apps.serving import views as serving
from apps.training import views as training

app_name = "dashboard"

urlpatterns = [
    path("", shell.overview, name="overview"),
    path("overview/charts.json", shell.overview_charts, name="overview-charts"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html",
            redirect_authenticated_user=True,
            next_page="dashboard:overview",
        ),
        name="login",
    ),
    path(
        "accounts/logout/",
        auth_views.LogoutView.as_view(next_page="dashboard:login"),
        name="logout",
    ),
    path("runs/", training.runs, name="runs"),
    path("runs/active.json", training.run_progress, name="run-progress"),
    path("runs/retrain/", training.retrain, name="retrain"),
    path("runs/<int:run_id>/", training.run_detail, name="run"),
    path("models/", training.models, name="models"),
    path("models/<int:version>/", training.model_detail, name="model"),
    path("models/<int:version>/approve/", training.model_approve, name="approve"),
    path("models/<int:version>/reject/", training.model_reject, name="reject"),
    path("models/rollback/", training.model_rollback, name="rollback"),
    path("drift/", monitoring.drift, name="drift"),
    path("drift/<int:report_id>/", monitoring.drift_report, name="drift-report"),
    path("drift/incidents/<int:incident_id>/", monitoring.drift_incident, name="drift-incident"),
    path(
        "drift/incidents/<int:incident_id>/acknowledge/",
        monitoring.drift_incident_ack,
        name="drift-incident-ack",
    ),
    path("traffic/", serving.traffic, name="traffic"),
    path("traffic/export.csv", serving.traffic_csv, name="traffic-csv"),
    path("data/", shell.data_list, name="data"),
    path("data/<int:data_version_id>/", shell.data_detail, name="data-version"),
    path("assets/plotly.min.js", shell.plotly_js, name="plotly"),
]
