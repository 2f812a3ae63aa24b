"""Admin base class shared by every app's audit models."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


# The stubs make ModelAdmin generic; Django's own class cannot be subscripted at run time.
class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Browse and search only: a hand-edited status would bypass the gate and the audit trail."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
