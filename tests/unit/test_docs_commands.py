"""Every `make` target and `lakehouse` command the README and docs name exists: a renamed or
removed command cannot stay documented. (What the commands do is exercised by the test groups
and by CI; this only keeps the docs pointing at real ones.)"""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from lakehouse.cli import app

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = re.compile(r"`([^`\n]+)`|```[a-z]*\n(.*?)```", re.S)


def _code(page: Path) -> list[str]:
    return [a or b for a, b in CODE.findall(page.read_text())]


def _targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))


def _commands() -> set[str]:
    cli = typer.main.get_command(app)
    out = set(cli.commands)
    for name, group in cli.commands.items():
        out |= {f"{name} {sub}" for sub in getattr(group, "commands", {})}
    return out


def test_every_documented_make_target_exists():
    targets = _targets()
    missing = sorted(
        f"{page.relative_to(ROOT)}: make {target}"
        for page in PAGES
        for code in _code(page)
        for target in re.findall(r"\bmake ([a-z][a-z0-9-]*)", code)
        if target not in targets
    )
    assert missing == []


def test_every_documented_lakehouse_command_exists():
    commands = _commands()
    missing = []
    for page in PAGES:
        for code in _code(page):
            for words in re.findall(
                r"\blakehouse (?:--profile \S+ )?([a-z][a-z-]*(?: [a-z]+)?)", code
            ):
                first = words.split()[0]
                if first not in commands and words not in commands:
                    missing.append(f"{page.relative_to(ROOT)}: lakehouse {words}")
    assert missing == []
