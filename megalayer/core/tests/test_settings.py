import re
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
