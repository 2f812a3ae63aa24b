from django.core.management.base import BaseCommand

from apps.dashboard.supervisor import admin_user_ensure


class Command(BaseCommand):
    help = "Create the platform's admin account once and print its credentials."

    def handle(self, *args: object, **options: object) -> None:
        account = admin_user_ensure()
        if account.created:
            self.stdout.write(
                f"admin account created: username {account.username!r}, "
                f"password {account.password!r} (also in var/admin-password.txt)"
            )
        else:
            self.stdout.write(f"admin account {account.username!r} exists (password unchanged)")
