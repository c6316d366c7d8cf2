"""``carekey demo``: a program with two sites, one user per role, ~200 synthetic people with exams (Faker)."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from carekey.domain.consent import Grantor, GrantorKind
from carekey.domain.program import Program, Site
from carekey.errors import InvalidInput
from carekey.interfaces.cli.progress import track
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from carekey.services.consents import ConsentInput
from carekey.services.container import Services
from carekey.services.deps import Actor
from carekey.services.people import PersonInput, check_pin

SITES = (
    Site("north", "demo", "North district clinic", "Northern"),
    Site("south", "demo", "South market school", "Southern"),
)
VILLAGES = {"north": ("Kpalsi", "Gumani", "Nyohini", "Lamashegu"), "south": ("Ashaiman", "Tema", "Kpone", "Ada")}
USERS: tuple[tuple[str, str, list[str]], ...] = (  # (username, role, sites)
    ("registrar-north", "registrar", ["north"]),
    ("clinician-north", "clinician", ["north"]),
    ("registrar-south", "registrar", ["south"]),
    ("clinician-south", "clinician", ["south"]),
    ("manager", "program_manager", ["north", "south"]),
    ("auditor", "auditor", []),
    ("admin", "admin", []),
)
CARE = "care_record"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str


def faker_class() -> type:
    """Faker, of the ``demo`` extra: loaded here so that the other commands run without it."""
    try:
        from faker import Faker
    except ImportError as exc:
        raise InvalidInput("carekey demo needs the demo extra: pip install 'carekey[demo]'") from exc
    return Faker


def seed_program(services: Services) -> tuple[list[DemoUser], dict[str, Actor]]:
    admin = services.admin
    admin.create_program(LOCAL_OPERATOR, Program("demo", "Community screening (demo)", ("v1",), ("en", "fr")))
    for site in SITES:
        admin.add_site(LOCAL_OPERATOR, site)
    users, actors = [], {}
    for username, role, sites in USERS:
        password = "-".join(secrets.token_hex(3) for _ in range(3))
        admin.add_user(LOCAL_OPERATOR, username, role, password, sites, username.replace("-", " ").title())
        actors[username] = Actor.of(admin.approve_user(DEMO_SEED, username))  # the seed's second signature
        users.append(DemoUser(username, role, password))
    return users, actors


def _exam(rng: random.Random, age: int) -> dict[str, object]:
    sys_bp = round(rng.gauss(118 + 0.5 * max(0, age - 20), 15))
    height = rng.gauss(165 if age >= 16 else 100 + 4 * age, 8)
    weight = max(8.0, rng.gauss(22.5 + rng.gauss(2, 4), 1) * (height / 100) ** 2)
    return {
        "systolic_bp": max(80, min(220, sys_bp)),
        "diastolic_bp": max(45, min(sys_bp - 20, round(sys_bp * 0.65))),
        "pulse": round(rng.gauss(76, 10)),
        "height_cm": round(height, 1),
        "weight_kg": round(weight, 1),
        "glucose_mmol_l": round(max(3.0, rng.gauss(5.6, 1.2)), 1),
        "hemoglobin_g_dl": round(max(7.0, rng.gauss(13, 1.5)), 1),
        "blood_type": rng.choices(["O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-"], [38, 27, 20, 5, 4, 3, 2, 1])[0],
    }


def seed_people(
    services: Services, actors: dict[str, Actor], count: int, seed: int, patients: dict[str, str] | None = None
) -> int:
    """Enroll ``count`` people; the first one gets a random patient PIN, put in ``patients`` (card -> PIN)."""
    rng, fake = random.Random(seed), faker_class()(["en_GB", "fr_FR"])
    fake.seed_instance(seed)
    year = services.deps.clock().year
    enrolled = 0
    cards = rng.sample(range(100000, 1000000), count)  # random, not sequential: a card number predicts no other
    for i in track(range(count), "enrolling demo people", count):
        site = SITES[i % 2].id
        reg, clin = actors[f"registrar-{site}"], actors[f"clinician-{site}"]
        age = rng.choice([rng.randint(5, 17), *[rng.randint(18, 85)] * 5])
        sex = rng.choice(["female", "male"])
        given = fake.first_name_female() if sex == "female" else fake.first_name_male()
        if age >= 18:
            grantor = Grantor()
        else:
            kind = GrantorKind.SELF if age >= 12 else GrantorKind.GUARDIAN
            grantor = Grantor(kind, fake.name(), rng.choice(["mother", "father", "aunt", "grandmother"]))
        granted = [CARE] + [
            p for p, share in (("biometric_identification", 0.8), ("aggregate_statistics", 0.9)) if rng.random() < share
        ]
        visit = services.visits.open(reg, site)
        person = PersonInput(
            given,
            fake.last_name(),
            sex,
            year - age - 1,
            f"{site[0].upper()}{cards[i]}",
            district=SITES[i % 2].district,
            village=rng.choice(VILLAGES[site]),
            language=rng.choice(["en", "fr"]),
        )
        pin = _demo_pin() if i == 0 and patients is not None else None
        view = services.people.enroll(
            reg, visit.id, CARE, person, ConsentInput.parse(granted, "v1", person.language, grantor), pin
        )
        if pin is not None and patients is not None:
            patients[person.card_number] = pin
        services.exams.record(clin, visit.id, CARE, view.person.id, _exam(rng, age))
        services.visits.close(reg, visit.id)
        enrolled += 1
    return enrolled


def write_credentials(data: Path, users: list[DemoUser], patients: dict[str, str] | None = None) -> Path:
    path = data / "demo-users.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{u.username}\t{u.role}\t{u.password}\n" for u in users))
    if patients:  # demo-patients.txt: card number and PIN of the demo patient(s), mode 0600
        fd = os.open(data / "demo-patients.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{card}\t{pin}\n" for card, pin in patients.items()))
    return path


def _demo_pin() -> str:
    """A random 6-digit PIN that the PIN policy accepts (not 111111, not 123456...)."""
    while True:
        pin = f"{secrets.randbelow(10**6):06d}"
        try:
            check_pin(pin)
            return pin
        except InvalidInput:
            continue
