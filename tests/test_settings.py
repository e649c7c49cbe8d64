"""Every setting is documented in README.md and listed in .env.example, which parses."""

from __future__ import annotations

from assistant.settings import PROJECT_ROOT, Settings


def test_env_example_parses_and_lists_every_setting():
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    Settings(_env_file=PROJECT_ROOT / ".env.example")
    missing = [name for name in Settings.model_fields if f"ASSISTANT_{name.upper()}=" not in text]
    assert missing == []


def test_readme_documents_every_setting():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"ASSISTANT_{name.upper()}" not in readme]
    assert missing == []
