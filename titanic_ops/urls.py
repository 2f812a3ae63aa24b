from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.serving import api
from apps.training import api as training_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("predict_titanic", api.PredictView.as_view(), name="predict"),
    path("predict_titanic/batch", api.PredictBatchView.as_view(), name="predict-batch"),
    path("feedback", api.FeedbackView.as_view(), name="feedback"),
    path("reload", api.ReloadView.as_view(), name="reload"),
    path("health", api.HealthView.as_view(), name="health"),
    path("health/live", api.LiveView.as_view(), name="health-live"),
    path("health/ready", api.ReadyView.as_view(), name="health-ready"),
    path("api/data-versions", training_api.DataVersionUploadView.as_view(), name="data-upload"),
    path("api/training-runs", training_api.TrainingRunListView.as_view(), name="training-runs"),
    path(
        "api/training-runs/<int:pk>",
        training_api.TrainingRunDetailView.as_view(),
        name="training-run",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("apps.dashboard.urls")),
]
