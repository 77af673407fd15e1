"""Django settings, driven by the environment through ``config.env``.

One settings module for every environment: what differs between a laptop, CI and
production is set by environment variables (see ``.env.example``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import env
from megalayer.core.crypto import derived_key as _derived_key
from megalayer.core.crypto import valid_key as _valid_key

BASE_DIR = env.BASE_DIR
VAR_DIR = BASE_DIR / "var"

DEBUG = env.boolean("MEGALAYER_DEBUG", False)
SECRET_KEY = env.require_in_production(
    "MEGALAYER_SECRET_KEY",
    env.string("MEGALAYER_SECRET_KEY", "dev-only-insecure-key" if DEBUG else ""),
    debug=DEBUG,
)
ALLOWED_HOSTS = env.string_list("MEGALAYER_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.string_list("MEGALAYER_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env.string("MEGALAYER_SITE_URL", "http://127.0.0.1:8000")
SITE_ID = 1

# Secrets at rest (driver credentials, operations' passwords; megalayer/core/crypto.py): Fernet keys,
# comma-separated, the first encrypts and all decrypt (rotation: docs/security.md). Required in production;
# the demo derives one from the secret key.
MEGALAYER_ENCRYPTION_KEYS = env.string_list("MEGALAYER_ENCRYPTION_KEYS", [])
if not MEGALAYER_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "MEGALAYER_ENCRYPTION_KEYS must be set when MEGALAYER_DEBUG is off; make a key with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    MEGALAYER_ENCRYPTION_KEYS = [_derived_key(SECRET_KEY)]
for _key in MEGALAYER_ENCRYPTION_KEYS:
    if not _valid_key(_key):
        raise ImproperlyConfigured(
            "MEGALAYER_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 bytes, url-safe base64)."
        )


INSTALLED_APPS = [
    "megalayer.backoffice.apps.MfaAdminConfig",  # django.contrib.admin, behind the staff door
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves the API docs' Swagger UI from the package, not a CDN (issue 14, item 8)
    "django.contrib.sites",
    "django.contrib.humanize",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "megalayer.core",
    "megalayer.audit",
    "megalayer.terms",
    "megalayer.accounts",
    "megalayer.notices",
    "megalayer.ledger",
    "megalayer.billing",
    "megalayer.catalog",
    "megalayer.orders",
    "megalayer.services",
    "megalayer.network",
    "megalayer.provisioning",
    "megalayer.support",
    "megalayer.abuse",
    "megalayer.privacy",
    "megalayer.affiliates",
    "megalayer.webhooks",
    "megalayer.reports",
    "megalayer.api",
    "megalayer.portal",
    "megalayer.backoffice",
    "megalayer.cli",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "megalayer.core.middleware.PermissionsPolicyMiddleware",
    "megalayer.core.middleware.NulGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "megalayer.terms.middleware.ContinuedUseMiddleware",
    "megalayer.accounts.middleware.PasswordAgeMiddleware",
    "megalayer.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "config.urls"
MEGALAYER_SCHEDULE = "config.schedule.SCHEDULE"  # the periodic jobs (core.scheduler reads them from here)
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "megalayer" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "megalayer.portal.context.navigation",
            ],
        },
    },
]

_DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'megalayer.sqlite3'}"
DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(
        dj_database_url.parse(
            env.string("DATABASE_URL", _DEFAULT_DATABASE_URL), conn_max_age=60, conn_health_checks=True
        )
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock
    # at BEGIN, so two writers queue on busy_timeout instead of failing with
    # "database is locked" half-way through a transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_BACKEND = env.string("MEGALAYER_CACHE", "database")
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        if CACHE_BACKEND == "locmem"
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "megalayer_cache"}
    )
}

TASKS: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
        if env.string("MEGALAYER_TASKS", "database") == "immediate"
        else {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    )
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "megalayer.accounts.roles.RoleBackend",  # staff roles → permissions (issue 14, item 6)
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth: e-mail login, mandatory verification, MFA, user sessions.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_SIGNUP_FORM_CLASS = "megalayer.accounts.forms.SignupForm"
ACCOUNT_ADAPTER = "megalayer.accounts.adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Megalayer] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if not DEBUG else "http"
# Lockout has one owner: allauth's "login_failed" rate limit, per login (key)
# and, more loosely, per IP, so one attacked account never locks out others.
ACCOUNT_RATE_LIMITS = {
    # Per account (password and second-factor failures alike). The per-address limit is applied by the
    # account adapter, and not to a browser that signed in to that account before (accounts/adapter.py).
    "login_failed": f"{env.integer('MEGALAYER_LOGIN_FAILURES_PER_ACCOUNT', 5)}/15m/key",
}
MEGALAYER_LOGIN_FAILURES_PER_ADDRESS = f"{env.integer('MEGALAYER_LOGIN_FAILURES_PER_IP', 30)}/10m/ip"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGIN_URL = "account_login"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
MFA_TOTP_ISSUER = "Megalayer"
# A code typed in the last seconds of its 30-second step still counts in the next one (RFC 6238, 5.2: one step
# back for transmission delay); a used code is refused again either way.
MFA_TOTP_TOLERANCE = 1
USERSESSIONS_TRACK_ACTIVITY = True

_EMAIL_HOST = env.string("EMAIL_HOST", "")
MAILERS: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST,
                "port": env.integer("EMAIL_PORT", 25),
                "username": env.string("EMAIL_HOST_USER", ""),
                "password": env.string("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env.boolean("EMAIL_USE_TLS", False),
                "timeout": env.integer("EMAIL_TIMEOUT", 15),
            },
        }
        if _EMAIL_HOST
        # Without an SMTP host (development), mail is printed by the worker.
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "Megalayer <noreply@megalayer.localhost>")

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The provider's time zone: calendar months for reinstall quotas, renewal anchors.
MEGALAYER_PROVIDER_TIME_ZONE = env.string("MEGALAYER_PROVIDER_TIME_ZONE", "Asia/Hong_Kong")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and env.boolean("MEGALAYER_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Browser hardening (issue 14, item 8; docs/security.md). Scripts run only from our own files or with the
# page's nonce, so injected markup cannot run code. Inline style *attributes* stay allowed: they cannot run
# script or select other elements, and e-mail HTML (previewed in the back office in a sandboxed frame that
# inherits this policy) must carry its styles inline. Card payments leave by a form for Stripe Checkout.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF, *env.string_list("MEGALAYER_CSP_FORM_ACTION", ["https://checkout.stripe.com"])],
}
# HSTS on every HTTPS response (Django sends it only over HTTPS, so plain-HTTP development is unaffected).
SECURE_HSTS_SECONDS = env.integer("MEGALAYER_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("MEGALAYER_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (docs/deployment.md).
if env.boolean("MEGALAYER_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Powerful browser features the platform never uses are turned off; WebAuthn (security keys) stays on.
MEGALAYER_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=(), interest-cohort=(), "
    "publickey-credentials-create=(self), publickey-credentials-get=(self)"
)

NINJA_PAGINATION_MAX_LIMIT = 100
# API rate limits (issue 14, item 13; megalayer/api/throttling.py): requests per token and per client
# address, as "count/period" (s, min, hour, day); empty turns a limit off.
MEGALAYER_API_RATES: dict[str, str | None] = {
    "token": env.string("MEGALAYER_API_RATE_PER_TOKEN", "300/min") or None,
    "address": env.string("MEGALAYER_API_RATE_PER_ADDRESS", "600/min") or None,
}
NINJA_NUM_PROXIES = 0  # a client's X-Forwarded-For is never trusted: the client address is REMOTE_ADDR

# Billing. Gateways offered to customers, in order; "sandbox" approves fake payments (demo only).
MEGALAYER_GATEWAYS = env.string_list("MEGALAYER_GATEWAYS", ["sandbox"] if DEBUG else ["stripe"])
if "sandbox" in MEGALAYER_GATEWAYS and not DEBUG:  # issue 14, item 14: fake money never reaches production
    raise ImproperlyConfigured(
        "MEGALAYER_GATEWAYS names 'sandbox', which approves fake payments: it is for the demo "
        "(MEGALAYER_DEBUG=1) only. Use stripe and/or manual in production."
    )
# Four eyes (issue 14, item 6): a staff refund above this amount, per currency, waits for a second staff
# member's approval; a currency not listed always does. "USD:100,EUR:100".
MEGALAYER_REFUND_APPROVAL_ABOVE: dict[str, Decimal] = {
    code.strip().upper(): Decimal(amount)
    for code, _, amount in (
        item.partition(":")
        for item in env.string_list(
            "MEGALAYER_REFUND_APPROVAL_ABOVE", ["USD:100", "EUR:100", "GBP:100", "HKD:800", "SGD:150", "JPY:15000"]
        )
    )
}
MEGALAYER_PROVIDER_COUNTRY = env.string("MEGALAYER_PROVIDER_COUNTRY", "HK")
MEGALAYER_VAT_CHECKER = env.string("MEGALAYER_VAT_CHECKER", "")
STRIPE_SECRET_KEY = env.string("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env.string("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env.string("STRIPE_API_BASE", "")

# Network. How null routes reach the routers (see megalayer/network/announcers.py).
MEGALAYER_NULL_ROUTE_ANNOUNCER = env.string(
    "MEGALAYER_NULL_ROUTE_ANNOUNCER", "megalayer.network.announcers.RecordingAnnouncer"
)
MEGALAYER_EXABGP_PIPE = env.string("MEGALAYER_EXABGP_PIPE", "/run/exabgp/exabgp.in")

# Provisioning. Where failed machine operations are reported, and the domain of servers' default host names.
MEGALAYER_STAFF_ALERT_EMAIL = env.string("MEGALAYER_STAFF_ALERT_EMAIL", "noc@megalayer.example")
MEGALAYER_SERVER_DOMAIN = env.string("MEGALAYER_SERVER_DOMAIN", "servers.megalayer.example")
# The shared secret that signs the DDoS detector's alerts (contrib/fastnetmon/notify.py uses the same).
MEGALAYER_ATTACK_HOOK_SECRET = env.string("MEGALAYER_ATTACK_HOOK_SECRET", "")
# The shared secret that signs mail piped in by the mail server (bounces, ticket replies).
MEGALAYER_INBOUND_MAIL_SECRET = env.string("MEGALAYER_INBOUND_MAIL_SECRET", "")
# Support desk: the address customers write to (replies go to support+<ticket reference>@ this domain), and the
# largest attachment accepted.
MEGALAYER_SUPPORT_ADDRESS = env.string("MEGALAYER_SUPPORT_ADDRESS", "support@megalayer.example")
MEGALAYER_ATTACHMENT_MAX_BYTES = env.integer("MEGALAYER_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# Abuse desk: take the complainant's e-mail addresses and phone numbers out of what the customer is sent.
MEGALAYER_ABUSE_REDACT = env.boolean("MEGALAYER_ABUSE_REDACT", True)
MEGALAYER_ABUSE_ADDRESS = env.string("MEGALAYER_ABUSE_ADDRESS", "abuse@megalayer.example")
# Every address whose mail is the abuse desk's (aliases, feedback-loop addresses, abuse@ of the provider's other
# domains), matched against the envelope recipient, Delivered-To, X-Original-To, To and Cc. An ARF or X-ARF report
# is the desk's whatever it was sent to.
MEGALAYER_ABUSE_ADDRESSES = [
    a.lower() for a in [*env.string_list("MEGALAYER_ABUSE_ADDRESSES", []), MEGALAYER_ABUSE_ADDRESS] if a
]
# The authserv-id our own mail server writes in Authentication-Results (RFC 8601): only its DKIM/DMARC
# verdicts make a complaint's sender a trusted reporter. Empty: no mailed complaint acts on its own.
MEGALAYER_MAIL_AUTHSERV_ID = env.string("MEGALAYER_MAIL_AUTHSERV_ID", "")
# Snapshots a customer may keep per server (where the host's driver supports them; TOS-BACKUP-1).
MEGALAYER_SNAPSHOTS_PER_SERVER = env.integer("MEGALAYER_SNAPSHOTS_PER_SERVER", 3)
# The browser console (issue 18): how long an opened console's single-use ticket waits for its websocket, and
# where the websocket goes: "" = this site (a reverse proxy routes /console/ws/ to ``megalayer console_proxy``),
# ":8001" = this host name on that port (``megalayer run``), or a base such as "wss://console.example.com".
MEGALAYER_CONSOLE_TICKET_SECONDS = env.integer("MEGALAYER_CONSOLE_TICKET_SECONDS", 60)
MEGALAYER_CONSOLE_WS_BASE = env.string("MEGALAYER_CONSOLE_WS_BASE", ":8001")
# The largest cloud-init user data a customer may give at order or reinstall (issue 18).
MEGALAYER_USER_DATA_MAX_BYTES = env.integer("MEGALAYER_USER_DATA_MAX_BYTES", 16 * 1024)
# Bare metal (issue 19): the networks the machines' installers fetch their cloud-init seed from
# (``/metal/seed/<MAC>/``); a request from anywhere else is answered 404. Set it to the provisioning network.
MEGALAYER_METAL_SEED_NETWORKS = env.string_list("MEGALAYER_METAL_SEED_NETWORKS", ["127.0.0.0/8", "::1/128"])
# Outgoing webhooks (issue 20): a URL resolving to a private, loopback, link-local or reserved address is refused
# (SSRF) unless one of these networks (CIDRs) holds it; and how long one delivery request may take.
WEBHOOK_ALLOW_NETWORKS = env.string_list("MEGALAYER_WEBHOOK_ALLOW_NETWORKS", [])
WEBHOOK_TIMEOUT_SECONDS = env.integer("MEGALAYER_WEBHOOK_TIMEOUT_SECONDS", 10)

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.string("MEGALAYER_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
