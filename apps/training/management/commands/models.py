from django.core.management.base import BaseCommand

from apps.training.models import ModelVersion, PromotionEvent


class Command(BaseCommand):
    help = "List registered model versions and the promotion history."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"{'version':>7}  {'family':<6} {'eval AUC':>8}  {'status':<12} data")
        for mv in ModelVersion.objects.select_related("data_version").order_by("version"):
            auc = f"{mv.eval_auc:.4f}" if mv.eval_auc is not None else "-"
            self.stdout.write(
                f"{mv.version:>7}  {mv.family:<6} {auc:>8}  {mv.status:<12} "
                f"v{mv.data_version_id} ({mv.data_version.md5[:8]})"
            )
        self.stdout.write("\npromotion history (newest first):")
        for event in PromotionEvent.objects.all()[:20]:
            self.stdout.write(
                f"  {event.created_at:%Y-%m-%d %H:%M:%S}  {event.action:<8} "
                f"{event.from_version or '-'} -> {event.to_version or '-'}  "
                f"{event.reason:<13} by {event.actor}  {event.note}"
            )
