"""Test settings: the real settings with fast, process-local pieces swapped in.

Argon2 is replaced by a fast hasher (tests would spend their time hashing),
tasks run immediately in-process, the cache is per process (pytest-xdist
workers never share rate-limit counters), and mail goes to Django's in-memory
outbox unless a test points it at the real local SMTP server.
"""

from config import env

env.default("MEGALAYER_SECRET_KEY", "test-only-key")
env.default("MEGALAYER_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS1mb3Itc2VjcmV0cy1hdC1yZXM=")

from config.settings import *  # noqa: E402, F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The tests' mail server: complaints carry its Authentication-Results (abuse/tests/test_intake.py).
MEGALAYER_MAIL_AUTHSERV_ID = "mx.megalayer.test"
