"""Consent notices: one JSON file per (version, language) under ``notices/`` (package data).

A program lists the notice versions in force and the languages it offers; a notice is shown only when its
file exists, so adding a language is adding one file (``v1.sw.json``) and the language to the program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from carekey.domain.program import Program
from carekey.errors import InvalidInput, msg

FOLDER = Path(__file__).parent / "notices"


@dataclass(frozen=True)
class Notice:
    version: str
    language: str
    language_name: str
    title: str
    intro: tuple[str, ...]
    purposes: dict[str, dict[str, str]]
    rights: tuple[str, ...]
    guardian_minor: str
    guardian_child: str


@lru_cache(maxsize=64)
def load(version: str, language: str) -> Notice:
    path = FOLDER / f"{version}.{language}.json"
    if not (version.isalnum() and language.replace("-", "").isalnum() and path.is_file()):
        raise InvalidInput(
            msg(
                "no consent notice %(version)s in language %(language)s", version=repr(version), language=repr(language)
            )
        )
    d = json.loads(path.read_text(encoding="utf-8"))
    return Notice(
        d["version"],
        d["language"],
        d["language_name"],
        d["title"],
        tuple(d["intro"]),
        d["purposes"],
        tuple(d["rights"]),
        d["guardian_minor"],
        d["guardian_child"],
    )


def versions() -> list[str]:
    """The notice versions that have at least one file, oldest first (for the program form)."""
    return sorted({p.name.split(".")[0] for p in FOLDER.glob("*.*.json")})


def languages() -> list[str]:
    """The languages some notice file exists in."""
    return sorted({p.name.split(".")[1] for p in FOLDER.glob("*.*.json")})


def offered(program: Program) -> list[Notice]:
    """The notices of the program's current (last listed) version, in each offered language that has a file."""
    version = program.notice_versions[-1]
    out = []
    for lang in program.languages:
        try:
            out.append(load(version, lang))
        except InvalidInput:
            continue
    return out


def pick(program: Program, language: str | None) -> Notice:
    notices = offered(program)
    if not notices:
        raise InvalidInput(
            msg("program %(program)s has no consent notice file for its current version", program=program.id)
        )
    return next((n for n in notices if n.language == language), notices[0])
