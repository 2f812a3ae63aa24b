"""Content-Security-Policy and transport headers (issue 14): scripts come only from the platform,
and no page of ours depends on an inline script."""

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def _policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_it_sends_a_strict_script_policy_on_every_page(admin_user: User) -> None:
    client = Client()
    for path in ("/accounts/login/", "/admin/login/", "/api/docs/", "/health"):
        policy = _policy(client.get(path))
        assert policy["script-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["default-src"] == ["'self'"]
    client.force_login(admin_user)
    overview = client.get("/")
    assert overview.status_code == 200 and _policy(overview)["script-src"] == ["'self'"]
    assert not INLINE_SCRIPT.search(overview.content.decode())


def test_it_keeps_the_templates_free_of_inline_scripts() -> None:
    templates = list((ROOT / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template
        assert not INLINE_HANDLER.search(text), template


def test_it_serves_the_swagger_ui_with_scripts_from_the_platform() -> None:
    client = Client()
    page = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(page)
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert len(sources) == 3 and all(src.startswith("/") for src in sources)
    init = client.get(sources[-1].replace("&amp;", "&"))
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


def test_it_sends_hsts_and_redirects_to_https_when_tls_is_on(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert client.get("/health").status_code != 301  # the container healthcheck stays on HTTP
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
