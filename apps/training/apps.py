from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "apps.training"
    label = "training"
    verbose_name = "Training and registry"

    def ready(self) -> None:
        # A signal receiver, not a schedule: nothing is written at import or here.
        from django_q.signals import post_spawn

        from apps.training.signals import reap_on_worker_start

        post_spawn.connect(reap_on_worker_start, dispatch_uid="titanic-reap-on-worker-start")
