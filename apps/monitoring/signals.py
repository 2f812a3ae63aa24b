"""A candidate that starts waiting for approval gets a shadow replay from the worker."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_q.tasks import async_task

from apps.training.models import PromotionEvent

SHADOW_TASK = "apps.monitoring.services.shadow_replays.shadow_replay_task"


@receiver(post_save, sender=PromotionEvent, dispatch_uid="monitoring-shadow-on-await")
def shadow_on_await(sender: Any, instance: PromotionEvent, created: bool, **_: Any) -> None:
    if created and instance.action == PromotionEvent.Action.AWAIT and instance.to_version:
        version = instance.to_version
        # robust: a queue hiccup after the commit must not turn the gate's decision into an error.
        transaction.on_commit(lambda: async_task(SHADOW_TASK, version=version), robust=True)
