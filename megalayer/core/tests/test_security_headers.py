"""Issue 14, item 8: every response carries the browser hardening headers; the API docs load nothing from a CDN."""

from __future__ import annotations

import re

import pytest

from megalayer.billing.tests.conftest import issued_invoice
from megalayer.core.tests.test_settings import _load_settings

pytestmark = pytest.mark.django_db


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def _nonce(policy: dict[str, list[str]], directive: str) -> str:
    (nonce,) = [v for v in policy[directive] if v.startswith("'nonce-")]
    return nonce.removeprefix("'nonce-").removesuffix("'")


def test_a_page_forbids_foreign_scripts_framing_and_unused_browser_features(client):
    response = client.get("/auth/login/")
    assert response.status_code == 200
    policy = _policy(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    # No inline script or style on this page, so no nonce is issued: our own files only.
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'", "https://checkout.stripe.com"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    permissions = dict(item.split("=", 1) for item in response["Permissions-Policy"].split(", "))
    assert permissions["camera"] == permissions["microphone"] == permissions["geolocation"] == "()"
    assert permissions["publickey-credentials-get"] == "(self)"  # security keys still work
    assert "Strict-Transport-Security" not in response  # plain HTTP: HSTS would mean nothing


def test_https_responses_carry_hsts_when_it_is_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    assert client.get("/auth/login/", secure=True)["Strict-Transport-Security"] == "max-age=31536000"


def test_production_settings_turn_hsts_on_and_the_demo_leaves_it_off():
    code = "import config.settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    production = _load_settings(MEGALAYER_DEBUG="false", MEGALAYER_GATEWAYS="stripe", code=code)
    assert (production.returncode, production.stdout.strip()) == (0, "31536000 False")
    demo = _load_settings(MEGALAYER_DEBUG="1", MEGALAYER_GATEWAYS="sandbox", code=code)
    assert (demo.returncode, demo.stdout.strip()) == (0, "0 False")


def test_the_framed_invoice_is_framable_by_our_pages_only_and_its_styles_carry_the_nonce(alice_client, alice):
    invoice = issued_invoice(alice, "12.00")
    response = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/document/")
    policy = _policy(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'self'"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    nonce = _nonce(policy, "style-src")
    assert len(nonce) >= 16
    assert f'<style nonce="{nonce}">' in response.content.decode()
    # Each response has its own nonce.
    again = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/document/")
    assert _nonce(_policy(again["Content-Security-Policy"]), "style-src") != nonce


def test_the_api_docs_load_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in sources
    assert "/static/ninja/swagger-ui.css" in sources
    assert [s for s in sources if "//" in s] == []  # nothing from another origin
    assert _policy(response["Content-Security-Policy"])["script-src"][0] == "'self'"
