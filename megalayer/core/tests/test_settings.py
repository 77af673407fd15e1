import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_environment_variable_is_documented_in_env_example():
    source = (ROOT / "config" / "settings.py").read_text()
    used = set(re.findall(r"env\.(?:string|boolean|integer|string_list)\(\s*[\"']([A-Z_]+)[\"']", source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert used, "no variables found: the pattern is stale"
    assert used - documented == set()


def test_models_and_migrations_agree(db):
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _load_settings(
    code: str = "import config.settings as s; print(s.MEGALAYER_GATEWAYS)", **environment: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEGALAYER_SECRET_KEY": "k" * 50, **environment}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_settings_refuse_the_sandbox_gateway():
    refused = _load_settings(MEGALAYER_DEBUG="false", MEGALAYER_GATEWAYS="stripe,sandbox")
    assert refused.returncode == 1
    assert "ImproperlyConfigured: MEGALAYER_GATEWAYS names 'sandbox'" in refused.stderr
    production = _load_settings(MEGALAYER_DEBUG="false", MEGALAYER_GATEWAYS="stripe,manual")
    assert (production.returncode, production.stdout.strip()) == (0, "['stripe', 'manual']")
    demo = _load_settings(MEGALAYER_DEBUG="1", MEGALAYER_GATEWAYS="sandbox")
    assert (demo.returncode, demo.stdout.strip()) == (0, "['sandbox']")
