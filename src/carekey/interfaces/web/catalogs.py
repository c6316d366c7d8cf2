"""Catalog chores for ``make i18n`` / ``make i18n-check`` (Babel's own reader and writer).

``fill-source PO``: English is the source language, so its catalog translates every string to itself (a string
is then never "missing" in English, and the completeness check applies to every catalog alike).
``check DIR``: every catalog under DIR translates every string of ``messages.pot`` (no empty, no fuzzy
msgstr) and has the ``.mo`` compiled from its ``.po``; exits 1 with the list otherwise."""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po


def load(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def compiled(catalog: Catalog) -> bytes:
    """The .mo that ``pybabel compile`` makes of this catalog (fuzzy entries left out)."""
    out = BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def fill_source(path: Path) -> int:
    catalog, filled = load(path), 0
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
            filled += 1
        if message.fuzzy and message.id:
            message.flags.discard("fuzzy")
    with path.open("wb") as f:
        write_po(f, catalog, width=120)
    return filled


def problems(locale_dir: Path) -> list[str]:
    """What keeps the catalogs from being complete (empty list: all complete and compiled)."""
    template = load(locale_dir / "messages.pot")
    wanted = {m.id for m in template if m.id}
    found: list[str] = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/messages.po")):
        lang = po.parts[-3]
        catalog = load(po)
        for mid in sorted(wanted, key=str):
            m = catalog.get(mid)
            strings = m.string if m is not None else None
            empty = not all(strings) if isinstance(strings, tuple | list) else not strings
            if m is None or empty or m.fuzzy:
                found.append(f"{lang}: untranslated {mid!r}")
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(catalog):
            found.append(f"{lang}: {mo.name} missing or not compiled from {po.name} (run make i18n)")
    return found


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "fill-source":
        print(f"{fill_source(Path(argv[1]))} source strings filled in {argv[1]}")
        return 0
    if len(argv) == 2 and argv[0] == "check":
        found = problems(Path(argv[1]))
        for line in found:
            print(line)
        return 1 if found else 0
    print("usage: python -m carekey.interfaces.web.catalogs fill-source PO | check LOCALE_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
