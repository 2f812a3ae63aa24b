"""Login abuse protection glue for django-axes: who the client is, and which logins count."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client address, by the same rule as the API throttle (TRUSTED_PROXY_COUNT)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies <= 0 or not forwarded:
        return remote  # a forged X-Forwarded-For must not create fresh identities
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote


class LoginAbuseBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """Axes' lock-out check for every login that arrives through a web request.

    Both login pages pass the request; a login without one (a shell, the test client's
    `login()`) is not a web attempt and is left to the next backend.
    """

    def authenticate(self, request: Any, username: str | None = None, **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, **kwargs)
