import json
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value
from django.test import Client

from megalayer.accounts.models import ApiToken
from megalayer.conftest import PASSWORD, record_sign_in

pytestmark = pytest.mark.django_db


def _login(client: Client, email: str, password: str):
    return client.post("/auth/login/", {"login": email, "password": password})


def test_wrong_passwords_past_the_limit_lock_that_login_only(alice, bob):
    client = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(5):
        response = _login(client, "alice@example.com", "wrong password")
        assert b"The email address and/or password you specified are not correct." in response.content
    locked = _login(client, "alice@example.com", PASSWORD)
    assert locked.status_code == 200
    assert b"Too many failed login attempts. Try again later." in locked.content
    assert "_auth_user_id" not in client.session
    other = _login(Client(REMOTE_ADDR="198.51.100.1"), "bob@example.com", PASSWORD)
    assert other.status_code == 302  # bob, from the same address, is not locked out
    api = Client(REMOTE_ADDR="198.51.100.1").post(
        "/api/v1/auth/tokens",
        json.dumps({"email": "alice@example.com", "password": PASSWORD}),
        content_type="application/json",
    )
    assert api.status_code == 429
    assert api["Retry-After"] == "900"
    assert api.json()["type"] == "/problems/rate-limited"
    assert not ApiToken.objects.filter(user=alice.owner).exists()


def _enable_totp(user) -> str:
    secret: str = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def _current_code(secret: str) -> str:
    import time

    from allauth.mfa import app_settings

    counter = int(time.time()) // app_settings.TOTP_PERIOD
    return str(f"{hotp_value(secret, counter):0{app_settings.TOTP_DIGITS}d}")


def test_totp_login_works(alice):
    secret = _enable_totp(alice.owner)
    client = Client()
    step = _login(client, "alice@example.com", PASSWORD)
    assert step["Location"] == "/auth/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    wrong = client.post("/auth/2fa/authenticate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert "_auth_user_id" not in client.session
    done = client.post("/auth/2fa/authenticate/", {"code": _current_code(secret)})
    assert done.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.owner.pk)


def test_a_recovery_code_works_once(alice):
    _enable_totp(alice.owner)
    codes = RecoveryCodes(Authenticator.objects.get(user=alice.owner, type="recovery_codes")).get_unused_codes()
    first = Client()
    _login(first, "alice@example.com", PASSWORD)
    assert first.post("/auth/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert first.session["_auth_user_id"] == str(alice.owner.pk)
    second = Client()
    _login(second, "alice@example.com", PASSWORD)
    again = second.post("/auth/2fa/authenticate/", {"code": codes[0]})
    assert again.status_code == 200
    assert "_auth_user_id" not in second.session
    assert second.post("/auth/2fa/authenticate/", {"code": codes[1]}).status_code == 302


def test_api_token_needs_the_totp_code_when_mfa_is_on(alice):
    secret = _enable_totp(alice.owner)
    url, kind = "/api/v1/auth/tokens", "application/json"
    no_code = Client().post(url, json.dumps({"email": "alice@example.com", "password": PASSWORD}), content_type=kind)
    assert (no_code.status_code, no_code.json()["errors"][0]["field"]) == (401, "otp")
    payload = {"email": "alice@example.com", "password": PASSWORD, "otp": _current_code(secret)}
    ok = Client().post(url, json.dumps(payload), content_type=kind)
    assert ok.status_code == 201
    assert ok.json()["token"].startswith("mgl_")


def test_other_customers_notice_is_invisible(alice, bob, alice_client):
    from megalayer.notices.actions import notice_create

    notice = notice_create(
        kind="terms_changed",
        recipient="bob@example.com",
        customer=bob,
        dedupe_key="b1",
        subject="For Bob",
        body_text="x",
        body_html="",
    )
    assert alice_client.get(f"/account/notices/{notice.public_id}/").status_code == 404
    assert b"For Bob" not in alice_client.get("/account/notices/").content


def test_back_office_needs_staff(alice_client, staff_client):
    assert alice_client.get("/backoffice/customers/").status_code == 302
    assert staff_client.get("/backoffice/customers/").status_code == 200


def test_token_is_shown_once_and_revocable(alice_client, alice):
    record_sign_in(alice_client, alice.owner, confirmed=True)  # creating a token asks for the password again
    page = alice_client.post("/account/security/", {"name": "laptop", "scope": "read", "expires": "90"})
    token = ApiToken.objects.get(user=alice.owner, name="laptop")
    assert f"mgl_{token.prefix}_".encode() in page.content
    assert f"mgl_{token.prefix}_".encode() not in alice_client.get("/account/security/").content
    alice_client.post(f"/account/security/tokens/{token.public_id}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_new_token_needs_a_recent_sign_in_and_expires(alice):
    """Issue 14, item 9: an open session is not enough to mint a token; a token shows when it expires and is
    refused after; a password change or a closed account ends every token."""
    import datetime as dt

    from megalayer.core import clock

    stale = record_sign_in(Client(), alice.owner)  # signed in, but the password was not just confirmed
    refused = stale.post("/account/security/", {"name": "laptop", "scope": "read", "expires": "90"})
    assert (refused.status_code, refused["Location"]) == (302, "/auth/reauthenticate/?next=%2Faccount%2Fsecurity%2F")
    assert not ApiToken.objects.filter(user=alice.owner).exists()

    fresh = record_sign_in(Client(), alice.owner, confirmed=True)
    page = fresh.post("/account/security/", {"name": "laptop", "scope": "read", "expires": "30"})
    token = ApiToken.objects.get(user=alice.owner, name="laptop")
    plaintext = page.content.decode().split('<code class="secret">')[1].split("</code>")[0]
    assert token.expires_at == token.created_at + dt.timedelta(days=30)
    assert f"{token.expires_at:%Y-%m-%d %H:%M}" in fresh.get("/account/security/").content.decode()
    me: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    assert Client().get("/api/v1/me", **me).status_code == 200
    with clock.travel(token.expires_at + dt.timedelta(seconds=1)):
        assert Client().get("/api/v1/me", **me).status_code == 401
        assert "laptop" not in fresh.get("/account/security/").content.decode()  # an expired token is gone

    api = _token_request(email="alice@example.com", password=PASSWORD, name="ci", expires_in_days=None)
    assert (api.status_code, api.json()["expires_at"]) == (201, None)  # "until revoked", when asked for
    default = _token_request(email="alice@example.com", password=PASSWORD, name="ci2")
    assert ApiToken.objects.get(public_id=default.json()["id"]).expires_at == ApiToken.objects.get(
        public_id=default.json()["id"]
    ).created_at + dt.timedelta(days=90)
    too_long = _token_request(email="alice@example.com", password=PASSWORD, name="ci3", expires_in_days=400)
    assert (too_long.status_code, too_long.json()["errors"][0]["field"]) == (422, "expires_in_days")

    fresh.post(
        "/auth/password/change/",
        {"oldpassword": PASSWORD, "password1": "another long passphrase 77", "password2": "another long passphrase 77"},
    )
    assert not ApiToken.objects.filter(user=alice.owner, revoked_at__isnull=True).exists()
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {api.json()['token']}").status_code == 401


def _token_request(**body: Any) -> Any:
    return Client(REMOTE_ADDR="198.51.100.7").post(
        "/api/v1/auth/tokens", json.dumps(body), content_type="application/json"
    )


def test_totp_guesses_in_the_api_share_the_lockout_of_the_web_second_step(alice):
    """Issue 14, item 2: the right password and wrong codes, again and again, lock the account; the web's
    second step is locked by the same guesses, and no token is made."""
    secret = _enable_totp(alice.owner)
    for guess in range(5):
        wrong = _token_request(email="alice@example.com", password=PASSWORD, otp=f"{guess:06d}")
        assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (401, "otp")
    locked = _token_request(email="alice@example.com", password=PASSWORD, otp=_current_code(secret))
    assert (locked.status_code, locked.json()["type"], locked["Retry-After"]) == (429, "/problems/rate-limited", "900")
    web = Client()
    assert _login(web, "alice@example.com", PASSWORD)["Location"] == "/auth/2fa/authenticate/"
    refused = web.post("/auth/2fa/authenticate/", {"code": _current_code(secret)})
    assert b"Too many failed login attempts. Try again later." in refused.content
    assert "_auth_user_id" not in web.session
    assert not ApiToken.objects.filter(user=alice.owner).exists()


def test_a_recovery_code_opens_the_api_once(alice):
    _enable_totp(alice.owner)
    codes = RecoveryCodes(Authenticator.objects.get(user=alice.owner, type="recovery_codes")).get_unused_codes()
    assert _token_request(email="alice@example.com", password=PASSWORD, otp=codes[0]).status_code == 201
    again = _token_request(email="alice@example.com", password=PASSWORD, otp=codes[0])
    assert again.status_code == 401
    assert ApiToken.objects.filter(user=alice.owner).count() == 1


def test_no_api_token_for_an_unverified_email(db):
    """Issue 14, item 3: the Terms make verification mandatory, so the API makes no token before it."""
    from allauth.account.models import EmailAddress

    from megalayer.accounts.models import User

    user = User.objects.create_user("new@example.com", PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    refused = _token_request(email="new@example.com", password=PASSWORD)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/email-not-verified"
    assert refused.json()["errors"][0]["field"] == "email"
    assert not ApiToken.objects.filter(user=user).exists()
    EmailAddress.objects.filter(user=user).update(verified=True)
    assert _token_request(email="new@example.com", password=PASSWORD).status_code == 201


def test_failures_from_one_address_lock_new_browsers_there_but_not_ones_that_signed_in_before(alice, bob, settings):
    """Issue 14, item 16: behind one NAT, one person's (or an attacker's) failures must not lock out everyone.
    The address limit spares a browser that has signed in to that account before; the account limit stays."""
    from megalayer.accounts.adapter import KNOWN_DEVICE_COOKIE

    settings.MEGALAYER_LOGIN_FAILURES_PER_ADDRESS = "3/10m/ip"
    office = "198.51.100.20"
    bobs_browser = Client(REMOTE_ADDR=office)
    assert _login(bobs_browser, "bob@example.com", PASSWORD).status_code == 302  # signed in once, last week
    assert KNOWN_DEVICE_COOKIE in bobs_browser.cookies
    bobs_browser.post("/auth/logout/")

    intruder = Client(REMOTE_ADDR=office)
    for email in ("alice@example.com", "bob@example.com", "carol@example.com"):
        assert _login(intruder, email, "guess").status_code == 200
    # The address is now limited: a new browser there cannot sign in, even with the right password …
    newcomer = Client(REMOTE_ADDR=office)
    refused = _login(newcomer, "alice@example.com", PASSWORD)
    assert b"Too many failed login attempts. Try again later." in refused.content
    assert "_auth_user_id" not in newcomer.session
    # … and a known browser's cookie opens only its own account.
    bobs_cookie = bobs_browser.cookies[KNOWN_DEVICE_COOKIE].value
    borrowed = Client(REMOTE_ADDR=office)
    borrowed.cookies[KNOWN_DEVICE_COOKIE] = bobs_cookie
    assert b"Too many failed login attempts." in _login(borrowed, "alice@example.com", PASSWORD).content
    assert _login(bobs_browser, "bob@example.com", PASSWORD).status_code == 302
    assert int(bobs_browser.session["_auth_user_id"]) == bob.owner.pk
    # Another address is not affected at all.
    assert _login(Client(REMOTE_ADDR="198.51.100.21"), "alice@example.com", PASSWORD).status_code == 302


def test_a_known_browser_still_meets_the_limit_of_its_account(bob, settings):
    from megalayer.accounts.adapter import KNOWN_DEVICE_COOKIE

    settings.MEGALAYER_LOGIN_FAILURES_PER_ADDRESS = "100/10m/ip"
    browser = Client(REMOTE_ADDR="198.51.100.30")
    assert _login(browser, "bob@example.com", PASSWORD).status_code == 302
    browser.post("/auth/logout/")
    assert KNOWN_DEVICE_COOKIE in browser.cookies
    for _ in range(5):
        assert _login(browser, "bob@example.com", "wrong").status_code == 200
    locked = _login(browser, "bob@example.com", PASSWORD)
    assert b"Too many failed login attempts. Try again later." in locked.content
    assert "_auth_user_id" not in browser.session


def test_a_forged_known_device_cookie_is_ignored(alice, settings):
    from megalayer.accounts.adapter import KNOWN_DEVICE_COOKIE, _login_digest

    settings.MEGALAYER_LOGIN_FAILURES_PER_ADDRESS = "1/10m/ip"
    office = Client(REMOTE_ADDR="198.51.100.40")
    assert _login(office, "nobody@example.com", "guess").status_code == 200
    forged = Client(REMOTE_ADDR="198.51.100.40")
    forged.cookies[KNOWN_DEVICE_COOKIE] = _login_digest("alice@example.com")  # right content, no signature
    assert b"Too many failed login attempts." in _login(forged, "alice@example.com", PASSWORD).content
