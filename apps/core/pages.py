"""What every dashboard page view shares, whichever app it belongs to: the login rule."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBase

# The dashboard's own login page; settings.LOGIN_URL still points at the admin's.
LOGIN_URL = "dashboard:login"

View = Callable[..., HttpResponseBase]


def dashboard_view(view: View) -> View:
    """Login required: anonymous visitors go to the dashboard's login page."""
    return login_required(view, login_url=LOGIN_URL)
