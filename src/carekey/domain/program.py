"""Screening programs, their sites, and the staff who use carekey."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from carekey.errors import N_, InvalidInput, msg

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


class Role(StrEnum):
    """What a staff member may do is decided by ``carekey.policy.decision`` from this role."""

    REGISTRAR = "registrar"  # enroll, record consent, identify/look up a person present at their site
    CLINICIAN = "clinician"  # record and read exams of the person identified in an open visit
    PROGRAM_MANAGER = "program_manager"  # differentially private aggregate statistics only
    AUDITOR = "auditor"  # verifies the transparency log; reads no records
    ADMIN = "admin"  # manages users, sites and keys; reads no records
    PATIENT = "patient"  # the person themself (card + PIN), never a staff account


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise InvalidInput(
            msg("unknown role %(role)s; roles: %(roles)s", role=repr(raw), roles=", ".join(r.value for r in Role))
        ) from None


def check_slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise InvalidInput(
            msg(
                "%(what)s must be 1-40 lowercase letters, digits, '-' or '_', got %(value)s",
                what=what,
                value=repr(value),
            )
        )
    return value


@dataclass(frozen=True)
class Program:
    """A screening program. ``notice_versions`` are the consent notice versions in force; the person
    reads the notice in one of ``languages`` (BCP 47 tags)."""

    id: str
    name: str
    notice_versions: tuple[str, ...] = ("v1",)
    languages: tuple[str, ...] = ("en",)

    def __post_init__(self) -> None:
        check_slug(self.id, N_("program id"))
        if not self.name.strip():
            raise InvalidInput("program name is empty")
        if not self.notice_versions or not self.languages:
            raise InvalidInput("a program needs at least one notice version and one language")

    def check_notice(self, version: str, language: str) -> None:
        if version not in self.notice_versions:
            raise InvalidInput(f"unknown notice version {version!r}; in force: {', '.join(self.notice_versions)}")
        if language not in self.languages:
            raise InvalidInput(f"notice language {language!r} not offered; offered: {', '.join(self.languages)}")


@dataclass(frozen=True)
class Site:
    """A place where screening happens (a clinic, a school, a mobile unit)."""

    id: str
    program_id: str
    name: str
    district: str = ""

    def __post_init__(self) -> None:
        check_slug(self.id, N_("site id"))
        if not self.name.strip():
            raise InvalidInput("site name is empty")


@dataclass(frozen=True)
class User:
    """A staff account, bound to one or more sites (admin, auditor and program manager may have none)."""

    id: str
    username: str
    role: Role
    site_ids: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    active: bool = True
    changed_by: str | None = None  # who created the account, or last reset its password or changed its role/sites
    approved_by: str | None = None  # the second person who approved it as it is now (None: awaiting approval)

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    def __post_init__(self) -> None:
        if not _USERNAME.match(self.username):
            raise InvalidInput("username must be 2-40 lowercase letters, digits, '.', '-' or '_'")
        if self.role is Role.PATIENT:
            raise InvalidInput("patient is not a staff role; a person signs in with their card and PIN")
        if self.role in (Role.REGISTRAR, Role.CLINICIAN) and not self.site_ids:
            raise InvalidInput(msg("a %(role)s must be bound to at least one site", role=self.role.value))

    def works_at(self, site_id: str) -> bool:
        return site_id in self.site_ids
