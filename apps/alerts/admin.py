"""Endpoints and subscriptions, managed by operators; deliveries and attempts, read-only."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.alerts.models import (
    AlertEvent,
    DeliveryAttempt,
    EmailSubscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.alerts.services import webhook_test_send
from apps.core.admin import ReadOnlyAdmin

MANAGE = "alerts.manage_alerts"


class OperatorAdmin(admin.ModelAdmin):
    """Only holders of the operator's alert permission see or change these."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OperatorAdmin):
    list_display = ("name", "url", "events", "is_active", "created_at")
    actions = ["send_test_event"]

    @admin.action(description="Send test event")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            delivery = webhook_test_send(endpoint=endpoint)
            level = messages.SUCCESS if delivery.status == "delivered" else messages.WARNING
            self.message_user(request, f"{endpoint.name}: {delivery.status}", level)


@admin.register(EmailSubscription)
class EmailSubscriptionAdmin(OperatorAdmin):
    list_display = ("address", "events", "is_active")


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "subject", "emailed", "created_at")
    list_filter = ("kind",)
    readonly_fields = [field.name for field in AlertEvent._meta.fields]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "status_code", "latency_ms", "ok", "error")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "event", "endpoint", "status", "attempts", "next_attempt_at")
    list_filter = ("status",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    inlines = [DeliveryAttemptInline]
