"""Every setting has a row in docs/configuration.md and a line in .env.example, which
parses; and every ``ASSISTANT_*`` name the documentation mentions is a real setting."""

from __future__ import annotations

import re

from assistant.settings import PROJECT_ROOT, Settings

SETTINGS = {f"ASSISTANT_{name.upper()}" for name in Settings.model_fields}
DOCUMENTED_IN = PROJECT_ROOT / "docs" / "configuration.md"


def test_env_example_parses_and_lists_every_setting():
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    Settings(_env_file=PROJECT_ROOT / ".env.example")
    missing = [name for name in sorted(SETTINGS) if f"{name}=" not in text]
    assert missing == []


def test_configuration_documents_every_setting():
    """Each setting is named, in backticks, in the first column of a settings table."""
    named = set()
    for line in DOCUMENTED_IN.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            named |= set(re.findall(r"`(ASSISTANT_[A-Z0-9_]+)`", first_cell))
    assert sorted(SETTINGS - named) == []


def test_the_documentation_names_only_real_settings():
    """A setting renamed or removed in the code cannot live on in the documentation."""
    texts = [
        PROJECT_ROOT / "README.md",
        PROJECT_ROOT / "CHANGELOG.md",
        PROJECT_ROOT / ".env.example",
        *sorted((PROJECT_ROOT / "docs").glob("*.md")),
    ]
    unknown = {
        f"{path.relative_to(PROJECT_ROOT)}: {name}"
        for path in texts
        for name in re.findall(r"ASSISTANT_[A-Z][A-Z0-9_]*", path.read_text(encoding="utf-8"))
        if name not in SETTINGS
    }
    assert sorted(unknown) == []
