"""What every dashboard page view shares, whichever app it belongs to: the login rule."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponseBase

from apps.core.permissions import VIEW_DASHBOARD

# The dashboard's own login page; settings.LOGIN_URL still points at the admin's.
LOGIN_URL = "dashboard:login"

View = Callable[..., HttpResponseBase]


def dashboard_view(view: View) -> View:
    """Login required (anonymous visitors go to the login page), then the view permission (403)."""
    return login_required(
        permission_required(VIEW_DASHBOARD, raise_exception=True)(view), login_url=LOGIN_URL
    )
