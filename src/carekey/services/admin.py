"""Programs, sites and users. Only an admin (or the local operator holding the key file, through the CLI)
may do this; none of it reads personal data."""

from __future__ import annotations

from collections.abc import Iterable

from carekey.domain.ids import new_id
from carekey.domain.program import Program, Role, Site, User, parse_role
from carekey.errors import Forbidden, InvalidInput, NotFound
from carekey.services.auth import AuthService
from carekey.services.deps import Actor, Deps

MIN_PASSWORD = 10
#: The operator at the server's console (CLI with access to the data folder and key file).
LOCAL_OPERATOR = Actor("local-operator", "local-operator", Role.ADMIN, frozenset())


class AdminService:
    def __init__(self, deps: Deps, auth: AuthService) -> None:
        self.d = deps
        self.auth = auth

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if actor.role is not Role.ADMIN:
            raise Forbidden("only an admin manages programs, sites and users")

    def create_program(self, actor: Actor, program: Program) -> Program:
        self._require_admin(actor)
        with self.d.uow() as uow:
            uow.programs.add_program(program, self.d.clock())
            uow.commit()
        return program

    def add_site(self, actor: Actor, site: Site) -> Site:
        self._require_admin(actor)
        with self.d.uow() as uow:
            if uow.programs.get_program(site.program_id) is None:
                raise NotFound(f"no program {site.program_id!r}")
            uow.programs.add_site(site)
            uow.commit()
        return site

    def add_user(self, actor: Actor, username: str, role: str, password: str, sites: Iterable[str] = (),
                 display_name: str = "") -> User:
        self._require_admin(actor)
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters")
        user = User(new_id("U"), username.strip().lower(), parse_role(role), frozenset(sites), display_name)
        with self.d.uow() as uow:
            for site_id in user.site_ids:
                if uow.programs.get_site(site_id) is None:
                    raise NotFound(f"no site {site_id!r}")
            uow.users.add(user, self.auth.hash_password(password), self.d.clock())
            uow.commit()
        return user

    def users(self, actor: Actor) -> list[User]:
        self._require_admin(actor)
        with self.d.uow() as uow:
            return uow.users.list()

    def sites(self) -> list[Site]:
        with self.d.uow() as uow:
            return uow.programs.list_sites()

    def programs(self) -> list[Program]:
        with self.d.uow() as uow:
            return uow.programs.list_programs()

    def is_empty(self) -> bool:
        with self.d.uow() as uow:
            return not uow.programs.list_programs() and uow.users.count() == 0 and uow.people.count() == 0
