from django.contrib import admin

from apps.training.models import DataVersion


@admin.register(DataVersion)
class DataVersionAdmin(admin.ModelAdmin):
    list_display = ("id", "md5", "rows", "positives", "source", "is_current", "created_at")
    list_filter = ("is_current",)
    search_fields = ("md5", "source")
    readonly_fields = [field.name for field in DataVersion._meta.fields]
