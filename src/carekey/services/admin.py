"""Programs, sites and staff accounts. Only an admin (or the local operator holding the key file, through the
CLI) may do this; none of it reads personal data, and every action is a transparency-log entry (counted on the
public page), decided by ``policy.decide`` (``administer`` / ``approve_account``).

An admin cannot give themselves access to records: an account that is new, or whose password was reset or whose
role or sites changed, reaches no data until a second person (another admin, or the program manager of its
sites) approves it; nobody approves an account they created or changed. Resets, role changes and deactivation
sign the account out everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from carekey.audit.sth import KeyRotation, LogSigner
from carekey.domain.ids import new_id
from carekey.domain.program import Program, Role, Site, User, parse_role
from carekey.domain.purposes import Purpose
from carekey.errors import InvalidInput, NotAuthenticated, NotFound, msg
from carekey.policy.decision import AccountFacts, Action
from carekey.services.access import authorize, log_access
from carekey.services.auth import AuthService
from carekey.services.deps import Actor, Deps
from carekey.storage.keychecks import LOG_KEY
from carekey.storage.protocols import UnitOfWork

MIN_PASSWORD = 10
ADMIN = Purpose.ADMINISTRATION.value

#: The operator at the server's console (CLI with access to the data folder and key file).
LOCAL_OPERATOR = Actor("local-operator", "local-operator", Role.ADMIN, frozenset())
#: ``carekey demo`` seeding its demo accounts (a second identity, so the seeded accounts are approved; logged).
DEMO_SEED = Actor("demo-seed", "demo-seed", Role.ADMIN, frozenset())

T = TypeVar("T")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(msg("a password has at least %(n)s characters", n=MIN_PASSWORD), field="password")


class AdminService:
    def __init__(self, deps: Deps, auth: AuthService) -> None:
        self.d = deps
        self.auth = auth

    def _gate(self, uow: UnitOfWork, actor: Actor, what: str, detail: str) -> None:
        authorize(
            uow, self.d.clock(), actor, Action.ADMINISTER, ADMIN, logged_action=f"admin_{what}", detail=f": {detail}"
        )

    def create_program(self, actor: Actor, program: Program) -> Program:
        with self.d.uow() as uow:
            self._gate(uow, actor, "create_program", f"program {program.id}")
            uow.programs.add_program(program, self.d.clock())
            uow.commit()
        return program

    def add_site(self, actor: Actor, site: Site) -> Site:
        with self.d.uow() as uow:
            self._gate(uow, actor, "add_site", f"site {site.id} of program {site.program_id}")
            if uow.programs.get_program(site.program_id) is None:
                raise NotFound(msg("no program %(program)s", program=repr(site.program_id)))
            uow.programs.add_site(site)
            uow.commit()
        return site

    def add_user(
        self, actor: Actor, username: str, role: str, password: str, sites: Iterable[str] = (), display_name: str = ""
    ) -> User:
        """A new account, awaiting a second person's approval before it reaches any data."""
        _check_password(password)
        user = User(
            new_id("U"),
            username.strip().lower(),
            parse_role(role),
            frozenset(sites),
            display_name,
            changed_by=actor.user_id,
        )
        hashed = self.auth.hash_password(password)  # argon2 outside the transaction
        with self.d.uow() as uow:
            self._gate(
                uow,
                actor,
                "add_user",
                f"account {user.username} ({user.role.value}"
                f"{' at ' + ', '.join(sorted(user.site_ids)) if user.site_ids else ''}), awaiting approval",
            )
            self._check_sites(uow, user.site_ids)
            uow.users.add(user, hashed, self.d.clock())
            uow.commit()
        return user

    def approve_user(self, actor: Actor, username: str) -> User:
        """The second person's approval of an account as it is now (not its creator or last changer)."""
        with self.d.uow() as uow:
            user = self._user(uow, username)
            program_sites = self._program_sites(uow, actor)  # the policy scopes a manager's approvals to them
            authorize(
                uow,
                self.d.clock(),
                actor,
                Action.APPROVE_ACCOUNT,
                ADMIN,
                logged_action="admin_approve_user",
                account=AccountFacts(user.id, user.changed_by, user.site_ids),
                actor_program_sites=program_sites,
                detail=f": account {user.username} ({user.role.value}), changed by {user.changed_by}",
            )
            approved = replace(user, approved_by=actor.user_id)
            uow.users.save(approved)
            uow.commit()
        return approved

    def change_user(
        self,
        actor: Actor,
        username: str,
        role: str | None = None,
        sites: Iterable[str] | None = None,
        display_name: str | None = None,
    ) -> User:
        """Change role, sites or name; a change of role or sites needs a new approval and signs the account out."""
        with self.d.uow() as uow:
            user = self._user(uow, username)
            new_role = parse_role(role) if role else user.role
            new_sites = frozenset(sites) if sites is not None else user.site_ids
            widened = new_role is not user.role or new_sites != user.site_ids
            changed = replace(
                user,
                role=new_role,
                site_ids=new_sites,
                display_name=user.display_name if display_name is None else display_name,
                changed_by=actor.user_id if widened else user.changed_by,
                approved_by=None if widened else user.approved_by,
            )
            self._gate(
                uow,
                actor,
                "change_user",
                f"account {user.username}: role {user.role.value} -> "
                f"{new_role.value}, sites {sorted(user.site_ids)} -> {sorted(new_sites)}"
                + (", awaiting approval" if widened else ""),
            )
            self._check_sites(uow, new_sites)
            uow.users.save(changed)
            if widened:
                uow.users.end_sessions(user_id=user.id)
            uow.commit()
        return changed

    def reset_password(self, actor: Actor, username: str, password: str) -> User:
        """An admin sets a new password: the account needs a new approval (the admin now knows the password) and
        is signed out everywhere."""
        _check_password(password)
        hashed = self.auth.hash_password(password)  # argon2 outside the transaction
        with self.d.uow() as uow:
            user = self._user(uow, username)
            self._gate(uow, actor, "reset_password", f"account {user.username}, awaiting approval")
            uow.users.set_password(user.id, hashed)
            changed = replace(user, changed_by=actor.user_id, approved_by=None)
            uow.users.save(changed)
            uow.users.end_sessions(user_id=user.id)
            uow.commit()
        return changed

    def set_active(self, actor: Actor, username: str, active: bool) -> User:
        """Deactivate (signed out at once) or reactivate (which needs a new approval) an account."""
        with self.d.uow() as uow:
            user = self._user(uow, username)
            self._gate(
                uow,
                actor,
                "deactivate" if not active else "reactivate",
                f"account {user.username}" + (", awaiting approval" if active else ""),
            )
            changed = replace(
                user,
                active=active,
                changed_by=actor.user_id if active else user.changed_by,
                approved_by=None if active else user.approved_by,
            )
            uow.users.save(changed)
            uow.users.end_sessions(user_id=user.id)
            uow.commit()
        return changed

    def change_own_password(self, actor: Actor, old: str, new: str) -> None:
        """Any staff member changes their own password (the approval stays: nobody else learned it)."""
        _check_password(new)
        with self.d.uow(read_only=True) as uow:
            found = uow.users.by_username(actor.username)
        if found is None or not self.auth.verify_password(found[1], old):  # argon2 outside any transaction
            raise NotAuthenticated("the current password is wrong")
        hashed = self.auth.hash_password(new)
        with self.d.uow() as uow:
            uow.users.set_password(found[0].id, hashed)
            log_access(
                uow,
                self.d.clock(),
                actor,
                "change_own_password",
                ADMIN,
                "granted",
                "the staff member changed their own password",
            )
            uow.commit()

    def own_language(self, actor: Actor) -> str | None:
        """The UI language the staff member chose (None: not chosen; the browser's is used). Not personal data."""
        with self.d.uow() as uow:
            return uow.users.get_language(actor.user_id)

    def set_own_language(self, actor: Actor, language: str) -> None:
        """Any staff member chooses their UI language (an account setting that follows them to any device)."""
        with self.d.uow() as uow:
            uow.users.set_language(actor.user_id, language[:8])
            uow.commit()

    def rotate_key(self, actor: Actor, what: str, rotate: Callable[[], T]) -> T:
        """A key operation from the web UI: decided and logged FIRST, then ``rotate`` runs; if it fails, the log
        entry is rolled back with it (nothing happened). Returns what ``rotate`` returned."""
        with self.d.uow() as uow:
            self._gate(uow, actor, "rotate_key", what)
            result = rotate()
            uow.commit()
        return result

    def record_key_rotation(self, actor: Actor, what: str) -> None:
        """A key operation done at the console (the keys live outside the database) enters the log like any other
        admin action, so it is counted publicly."""
        with self.d.uow() as uow:
            self._gate(uow, actor, "rotate_key", what)
            uow.commit()

    def operator_may_change_accounts(self) -> bool:
        """Whether the local operator (the CLI without ``--user``) may still create or change accounts: only while
        no active admin account exists (setting up a data folder). After that an account change is signed by a
        named admin, so that the two-person rule can tell who may not approve it."""
        with self.d.uow(read_only=True) as uow:
            return not any(u.role is Role.ADMIN and u.active for u in uow.users.list())

    def rotate_log_key(self, actor: Actor, new: LogSigner) -> KeyRotation:
        """Replace the log signing key from the running server (the web UI; ``bootstrap.rotate_log_key_live`` puts
        the key file in place and switches the signer after this returns). Decided and logged like every admin
        action (``log_key_rotate``, as ``carekey log rotate-key``); the rotation, signed by the old key and by the
        new one, and the new key check are stored in the same transaction. The entry's promise is signed by the
        old key, which stays trusted through the rotation (``audit.sth.trusted_keys``)."""
        old = self.d.signer
        if old is None:
            raise NotFound("this carekey instance has no log signing key")
        now = self.d.clock()
        ms = int(now.timestamp() * 1000)
        rotation = KeyRotation(
            ms,
            old.public_key,
            new.public_key,
            old.sign_rotation(old.public_key, new.public_key, ms),
            new.sign_rotation(old.public_key, new.public_key, ms),
        )
        with self.d.uow() as uow:
            authorize(
                uow,
                now,
                actor,
                Action.ADMINISTER,
                ADMIN,
                logged_action="log_key_rotate",
                detail=f": log key {old.key_id.hex()[:16]} replaced by {new.key_id.hex()[:16]}, signed by both",
            )
            uow.log_keys.add(rotation)
            uow.key_checks.put(LOG_KEY, new.key_id.hex())
            uow.commit()
        return rotation

    def users(self, actor: Actor) -> list[User]:
        with self.d.uow() as uow:
            authorize(uow, self.d.clock(), actor, Action.ADMINISTER, ADMIN, logged_action="admin_list_users")
            users = uow.users.list()
            uow.commit()
        return users

    def pending_for(self, actor: Actor) -> list[User]:
        """For a program manager: the accounts of their program's sites awaiting approval (nothing else of the
        staff list). Listing them is itself logged."""
        with self.d.uow() as uow:
            sites = self._program_sites(uow, actor)
            authorize(
                uow,
                self.d.clock(),
                actor,
                Action.APPROVE_ACCOUNT,
                ADMIN,
                logged_action="list_pending_accounts",
                account=AccountFacts("-", None, sites),
                actor_program_sites=sites,
            )
            users = [u for u in uow.users.list() if not u.approved and u.site_ids and u.site_ids <= sites]
            uow.commit()
        return users

    def sites(self) -> list[Site]:
        with self.d.uow(read_only=True) as uow:
            return uow.programs.list_sites()

    def programs(self) -> list[Program]:
        with self.d.uow(read_only=True) as uow:
            return uow.programs.list_programs()

    def is_empty(self) -> bool:
        with self.d.uow(read_only=True) as uow:
            return not uow.programs.list_programs() and uow.users.count() == 0 and uow.people.count() == 0

    @staticmethod
    def _user(uow: UnitOfWork, username: str) -> User:
        found = uow.users.by_username(username.strip().lower()[:40])
        if found is None:
            raise NotFound(msg("no account %(account)s", account=repr(username[:40])))
        return found[0]

    @staticmethod
    def _check_sites(uow: UnitOfWork, site_ids: Iterable[str]) -> None:
        for site_id in site_ids:
            if uow.programs.get_site(site_id) is None:
                raise NotFound(msg("no site %(site)s", site=repr(site_id)))

    @staticmethod
    def _program_sites(uow: UnitOfWork, actor: Actor) -> frozenset[str]:
        """Every site of the programs the actor's sites belong to."""
        sites = uow.programs.list_sites()
        programs = {s.program_id for s in sites if s.id in actor.site_ids}
        return frozenset(s.id for s in sites if s.program_id in programs)
