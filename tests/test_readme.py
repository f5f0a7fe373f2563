"""The README's promises that code can check: every setting listed, the two commands present."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _variable(name: str) -> str:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"CHANGELOGS_{name.upper()}"


def test_every_setting_is_listed_in_the_readme() -> None:
    missing = [_variable(name) for name in Settings.model_fields if f"`{_variable(name)}`" not in README]
    assert missing == []


def test_no_setting_listed_in_the_readme_is_gone() -> None:
    known = {_variable(name) for name in Settings.model_fields}
    listed = {word.strip("`") for word in README.split() if word.startswith("`CHANGELOGS_") and word.endswith("`")}
    assert listed - known == set()


def test_the_quick_start_names_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README
