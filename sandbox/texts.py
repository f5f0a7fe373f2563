"""Generated file contents: READMEs, manifests, sandbox-authored changelogs, and the hostile ones."""

from __future__ import annotations

import datetime as dt
import json
import zlib

from sandbox import _words
from sandbox._dice import Dice

_SECTIONS = ("Added", "Changed", "Fixed", "Deprecated", "Removed", "Security")


def _date(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")


def keep_a_changelog(
    dice_key: tuple[object, ...], full_name: str, versions: tuple[str, ...], times: tuple[float, ...]
) -> str:
    """A keep-a-changelog 1.1 file for ``versions`` (oldest first), newest on top, with compare links.

    Each version's entry is drawn from ``dice_key`` and the version alone, so prepending a release leaves the
    older entries exactly as they were.
    """
    lines = [
        "# Changelog",
        "",
        "All notable changes to this project will be documented in this file.",
        "",
        "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),",
        "and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).",
        "",
    ]
    if Dice(*dice_key, "unreleased").chance(0.3):
        lines += ["## [Unreleased]", "", "### Changed", "", f"- {_entry(Dice(*dice_key, 'next'))}", ""]
    for version, at in zip(reversed(versions), reversed(times), strict=True):
        dice = Dice(*dice_key, version)
        lines += [f"## [{version}] - {_date(at)}", ""]
        for section in sorted({dice.choice(_SECTIONS[:3]) for _ in range(dice.between(1, 3))}, key=_SECTIONS.index):
            lines += [f"### {section}", ""]
            lines += [f"- {_entry(dice)}" for _ in range(dice.between(1, 4))]
            lines.append("")
    links = [f"[unreleased]: https://github.com/{full_name}/compare/v{versions[-1]}...HEAD"] if versions else []
    for older, newer in zip((None, *versions[:-1]), versions, strict=True):
        if older is None:
            links.append(f"[{newer}]: https://github.com/{full_name}/releases/tag/v{newer}")
        else:
            links.append(f"[{newer}]: https://github.com/{full_name}/compare/v{older}...v{newer}")
    return "\n".join(lines + links[::-1]) + "\n"


def _entry(dice: Dice) -> str:
    text = f"{dice.choice(_words.VERBS)} {dice.choice(_words.OBJECTS)}"
    if dice.chance(0.5):
        text += f" ([#{dice.between(10, 4000)}](https://github.com/issues/{dice.between(10, 4000)}))"
    return text


def hostile_changelog(full_name: str) -> str:
    """A keep-a-changelog file whose entries carry script-injection payloads: rendered, none may survive."""
    return (
        "# Changelog\n\n"
        "## [2.0.1] - 2026-03-02\n\n"
        "### Fixed\n\n"
        "- Escape titles <script>alert('xss-script')</script>\n"
        "- Images <img src=x onerror=\"alert('xss-img')\">\n"
        "- [Click me](javascript:alert('xss-link'))\n"
        "- <a href=\"javascript:alert('xss-anchor')\">docs</a>\n"
        '- <iframe src="https://evil.example/xss-iframe"></iframe>\n'
        "- <svg onload=\"alert('xss-svg')\"></svg>\n"
        "- <div style=\"background:url(javascript:alert('xss-style'))\">styled</div>\n\n"
        "## [2.0.0] - 2026-02-14\n\n"
        "### Changed\n\n"
        "- <details open ontoggle=\"alert('xss-details')\">Breaking</details> renames the `run` option\n"
        "- <object data=\"javascript:alert('xss-object')\"></object>\n\n"
        "```html\n<script>this one is inside a code fence and must stay text</script>\n```\n\n"
        f"[2.0.1]: https://github.com/{full_name}/compare/v2.0.0...v2.0.1\n"
        f"[2.0.0]: https://github.com/{full_name}/releases/tag/v2.0.0\n"
    )


def binary_changelog(seed: int) -> bytes:
    """A file called like a changelog that holds compressed bytes, NULs included."""
    payload = zlib.compress(Dice(seed, "binary").hex(4096).encode(), 9)
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + payload


def readme(name: str, description: str, registry: str) -> str:
    install = {
        "npm": f"npm install {name}",
        "pypi": f"pip install {name}",
        "rubygems": f"gem install {name}",
    }[registry]
    return (
        f"# {name}\n\n{description}.\n\n## Installation\n\n```sh\n{install}\n```\n\n"
        "## Usage\n\nSee the documentation.\n\n## Changelog\n\nSee the changelog or the releases page.\n\n"
        "## License\n\nMIT\n"
    )


def license_text(owner: str, year: int) -> str:
    return (
        "MIT License\n\n"
        f"Copyright (c) {year} {owner}\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
        'associated documentation files (the "Software"), to deal in the Software without restriction.\n\n'
        'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.\n'
    )


def package_json(name: str, version: str, description: str, full_name: str, directory: str | None) -> str:
    repository: dict[str, str] = {"type": "git", "url": f"git+https://github.com/{full_name}.git"}
    if directory:
        repository["directory"] = directory
    data = {
        "name": name,
        "version": version,
        "description": description,
        "main": "dist/index.js",
        "scripts": {"build": "tsc", "test": "vitest run"},
        "repository": repository,
        "license": "MIT",
    }
    return json.dumps(data, indent=2) + "\n"


def pyproject(name: str, version: str, description: str, full_name: str) -> str:
    return (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndescription = "{description}"\n'
        'requires-python = ">=3.9"\n\n'
        f'[project.urls]\nSource = "https://github.com/{full_name}"\n'
    )


def gemspec(name: str, version: str, description: str, full_name: str) -> str:
    return (
        "Gem::Specification.new do |spec|\n"
        f'  spec.name = "{name}"\n  spec.version = "{version}"\n  spec.summary = "{description}"\n'
        f'  spec.homepage = "https://github.com/{full_name}"\n  spec.license = "MIT"\n'
        f'  spec.metadata["source_code_uri"] = "https://github.com/{full_name}"\n'
        "end\n"
    )


def ci_workflow(registry: str) -> str:
    setup = {"npm": "actions/setup-node@v4", "pypi": "actions/setup-python@v5", "rubygems": "ruby/setup-ruby@v1"}
    return (
        "name: CI\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/checkout@v4\n      - uses: {setup[registry]}\n      - run: make test\n"
    )


def source_file(registry: str, name: str) -> str:
    ident = name.split("/")[-1].replace("-", "_").replace(".", "_")
    if registry == "pypi":
        return f'"""{name}."""\n\n__all__ = ["{ident}"]\n\n\ndef {ident}():\n    return None\n'
    if registry == "rubygems":
        return f"module {ident.title().replace('_', '')}\n  def self.call\n    nil\n  end\nend\n"
    return f"export function {ident}() {{\n  return null;\n}}\n"


def changelog_json(versions: tuple[str, ...]) -> str:
    """Release data for a website: JSON, not a changelog."""
    return json.dumps({"versions": [{"version": v} for v in versions[-5:]]}, indent=2) + "\n"


CHANGELOG_SCRIPT = (
    "#!/bin/sh\n# Regenerate CHANGELOG.md from the git history.\nset -e\n"
    'npx conventional-changelog -p angular -i CHANGELOG.md -s "$@"\n'
)

CHANGESET_README = (
    "# Changesets\n\nHello and welcome! This folder has been automatically generated by `@changesets/cli`, a build "
    "tool that works with multi-package repos, or single-package repos to help you version and publish your code.\n"
)

CHANGESET_CONFIG = '{\n  "$schema": "https://unpkg.com/@changesets/config/schema.json",\n  "changelog": "@changesets/cli/changelog",\n  "commit": false,\n  "access": "public",\n  "baseBranch": "main"\n}\n'  # noqa: E501

SEE_RELEASES = "# Changelog\n\nPlease see GitHub releases\n"  # 40 bytes that point elsewhere

TOWNCRIER_FRAGMENT = "Fix a crash when the configuration file is empty.\n"
