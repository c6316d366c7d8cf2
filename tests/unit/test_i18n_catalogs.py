"""The web UI's catalogs (issue 18): complete in every language, compiled, in step with the sources, placeholders
kept; and no template text left outside ``_()``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from carekey.interfaces.web import i18n
from carekey.interfaces.web.catalogs import problems

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src/carekey/interfaces/web"
LOCALE = WEB / "locale"
TEMPLATES = WEB / "templates"
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (LOCALE / lang / "LC_MESSAGES/messages.po").open("rb") as f:
        return read_po(f)


def test_every_catalog_is_complete_and_compiled():
    assert problems(LOCALE) == []


def test_the_check_finds_an_untranslated_string(tmp_path):
    """The completeness check can fail: one emptied msgstr in a copy of the French catalog is reported."""
    import shutil

    shutil.copytree(LOCALE, tmp_path / "locale")
    po = tmp_path / "locale/fr/LC_MESSAGES/messages.po"
    text = po.read_text(encoding="utf-8")
    emptied = text.replace('msgstr "Se connecter"', 'msgstr ""', 1)
    assert emptied != text
    po.write_text(emptied, encoding="utf-8")
    found = problems(tmp_path / "locale")
    assert "fr: untranslated 'Sign in'" in found
    assert any("not compiled from" in p for p in found)  # and its .mo no longer matches


def _extraction() -> tuple[list[tuple[str, str]], dict[str, object]]:
    """What ``make i18n`` extracts: the sections of babel.cfg and the keywords of the Makefile."""
    cfg = (ROOT / "babel.cfg").read_text(encoding="utf-8")
    method_map = [(path.strip(), method) for method, path in re.findall(r"^\[(\w+):\s*([^\]]+)\]", cfg, re.M)]
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    block = make[make.index("I18N_KEYWORDS :=") :].split("\n\n")[0].split("\ni18n:")[0]
    keywords: dict[str, object] = {"_": None, "gettext": None, "ngettext": (1, 2)}
    keywords |= {k: None for k in re.findall(r"-k (\w+)", block)}
    return method_map, keywords


def test_the_template_is_in_step_with_the_sources():
    """Every string marked in the templates, the web layer and the messages of errors people read is in
    messages.pot (run ``make i18n`` otherwise)."""
    method_map, keywords = _extraction()
    assert ("src/carekey/services/**.py", "python") in method_map and "msg" in keywords and "_deny" in keywords
    marked = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(str(ROOT), method_map, keywords=keywords)
    }
    with (LOCALE / "messages.pot").open("rb") as f:
        pot = {m.id for m in read_po(f) if m.id}
    assert marked - pot == set(), "strings not extracted yet: run make i18n"
    assert pot - marked == set(), "stale strings in messages.pot: run make i18n"


@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_translations_keep_the_placeholders(lang):
    for m in _catalog(lang):
        if m.id:
            assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), m.id


def test_french_is_really_french():
    fr = {m.id: m.string for m in _catalog("fr") if m.id}
    assert fr["Sign in"] == "Se connecter" and fr["Blood pressure is normal."] == "La tension est normale."
    same = [k for k, v in fr.items() if k == v]
    assert len(same) < 0.1 * len(fr), same  # units, codes and names only


TOKEN = re.compile(r"(\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<script.*?</script>|<style.*?</style>|<[^>]*>)", re.S)
TEXT_ATTR = re.compile(r'\b(?:alt|placeholder|aria-label|title)="([^"]*)"')
NAMES = re.compile(r"\b(carekey|API)\b")  # the same in every language


def unwrapped(source: str) -> list[str]:
    """Text of a template outside any tag or Jinja expression (it would escape translation), and text attributes
    not produced by an expression."""
    found = []
    for i, part in enumerate(TOKEN.split(source)):
        if i % 2 == 0 and re.search(r"[A-Za-z]{2,}", NAMES.sub("", part)):
            found.append(part.strip())
        elif i % 2 == 1 and part.startswith("<"):
            found += [v for v in TEXT_ATTR.findall(part) if re.search(r"[A-Za-z]{2,}", v) and "{{" not in v]
    return found


def test_the_grep_finds_bare_text():
    assert unwrapped('<p>{{ _("Fine") }}</p><p>Not wrapped</p><img alt="a picture">') == ["Not wrapped", "a picture"]


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_text_outside_gettext(template):
    assert unwrapped((TEMPLATES / template).read_text(encoding="utf-8")) == []


def test_accept_language_picks_our_best_language():
    assert i18n.from_accept_language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert i18n.from_accept_language("de-DE, fr;q=0.5, en;q=0.4") == "fr"
    assert i18n.from_accept_language("en;q=0.2, fr;q=0.9") == "fr"
    assert i18n.from_accept_language("de, *;q=0.1") is None
    assert i18n.from_accept_language("fr;q=0, en") == "en"
    assert i18n.from_accept_language("garbage;;;,") is None


def test_dates_and_numbers_follow_the_language():
    from datetime import date

    i18n.activate("fr")
    try:
        assert i18n.day(date(2026, 12, 29)) == "29 décembre 2026"
        assert i18n.number(7.1) == "7,1" and i18n.gettext("Sign in") == "Se connecter"
        assert i18n.age_words("about 41") == "environ 41"
    finally:
        i18n.activate("en")
    assert i18n.day(date(2026, 12, 29)) == "29 December 2026" and i18n.number(7.1) == "7.1"
    assert i18n.age_words("about 41") == "about 41" and i18n.age_words("41") == "41"
