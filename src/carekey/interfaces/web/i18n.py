"""The web UI's languages: gettext catalogs compiled by Babel, the language of each request, localized dates/numbers.

Catalogs live in ``locale/<lang>/LC_MESSAGES/messages.po`` (``make i18n`` extracts the strings of the templates
and of the web layer's Python into ``locale/messages.pot``, updates each catalog and compiles ``.mo`` files,
which are committed so that an install from the repository has them). English is the source language: its
catalog maps every string to itself, so an untranslated string can be found in any catalog that claims to be
complete (``tests/unit/test_i18n_catalogs.py``).

The language of a request, first that applies:

1. the language cookie, set by the switch on every page, and at sign-in from the staff member's account setting
   (``users.language``) or from the person's language (the language of their consent notice);
2. the browser's ``Accept-Language`` (before anyone signs in);
3. English.

The current language is a context variable set by ``render.page`` before a template renders, so the Python
helpers (``gettext``, ``day``, ``number``) and the templates' ``_()`` agree without passing it around.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from fastapi import Request

from carekey.domain.followup import FASTING_ASSUMED, SEX_ASSUMED
from carekey.errors import CarekeyError, ConsentMissing, Message, Word

LOCALES = ("en", "fr")
NAMES = {"en": "English", "fr": "Français"}
DEFAULT = "en"
FORMATS = {"en": "en_GB", "fr": "fr_FR"}  # dates as "29 November 2026" / "29 novembre 2026" (day first in both)
LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "carekey_lang"
_current: ContextVar[str] = ContextVar("carekey_lang", default=DEFAULT)


@lru_cache(maxsize=len(LOCALES))
def translations(lang: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [lang], "messages")


def current() -> str:
    return _current.get()


def activate(lang: str) -> None:
    _current.set(lang if lang in LOCALES else DEFAULT)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: marks a string for extraction only
    return message


def valid(lang: str | None) -> str | None:
    return lang if lang in LOCALES else None


def from_accept_language(header: str | None) -> str | None:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().replace("_", "-")))
    for _, _, tag in sorted(ranked):
        try:
            lang = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if lang in LOCALES:
            return lang
    return None


def choose(request: Request) -> str:
    return (
        valid(request.cookies.get(LANG_COOKIE))
        or from_accept_language(request.headers.get("accept-language"))
        or DEFAULT
    )


# -- localized formats ---------------------------------------------------------------------------------------------
def day(value: date | datetime | None, form: str = "long") -> str:
    """A date in the current language ("29 November 2026", "29 novembre 2026"); ``form`` short/medium/long."""
    if value is None:
        return ""
    d = value.date() if isinstance(value, datetime) else value
    return format_date(d, form, locale=FORMATS[current()])


def clock(value: datetime) -> str:
    return format_time(value, "short", locale=FORMATS[current()])


def moment(value: datetime) -> str:
    return format_datetime(value, "medium", locale=FORMATS[current()])


def number(value: float | int | None, digits: int = 1) -> str:
    """A number in the current language (decimal comma in French); at most ``digits`` decimals."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0." + "#" * digits if digits else "#,##0", locale=FORMATS[current()])


URGENCY = {"routine": N_("routine (weeks)"), "soon": N_("soon (within days)"), "urgent": N_("urgent (today)")}
CLOSED = {"seen": N_("seen there"), "declined": N_("the person declined"), "not_needed": N_("no longer needed")}


ROLE = {
    "registrar": N_("registrar"),
    "clinician": N_("clinician"),
    "program_manager": N_("program manager"),
    "auditor": N_("auditor"),
    "admin": N_("admin"),
    "patient": N_("patient"),
}


SEX = {"female": N_("female"), "male": N_("male"), "other": N_("other"), "unknown": N_("not recorded")}
PURPOSE = {
    "care_record": N_("care record"),
    "biometric_identification": N_("biometric identification"),
    "biometric_image_retention": N_("keeping biometric images"),
    "aggregate_statistics": N_("aggregate statistics"),
    "ehr_sharing": N_("sharing with the clinic's EMR"),
}


def sex_word(value: str) -> str:
    return gettext(SEX.get(value, value))


def purpose_word(value: str) -> str:
    """A consent purpose for staff screens (the patient portal has its own plain sentences: ``wording``)."""
    return gettext(PURPOSE[value]) if value in PURPOSE else value.replace("_", " ")


def role_word(value: str) -> str:
    return gettext(ROLE.get(value, value.replace("_", " ")))


def urgency_word(value: str) -> str:
    return gettext(URGENCY.get(value, value))


def closed_word(value: str) -> str:
    return gettext(CLOSED.get(value, value))


def age_words(label: str) -> str:
    """The domain's age label ("41", or "about 41" from a birth year alone) in the current language."""
    if label.startswith("about "):
        return gettext("about %(age)s") % {"age": label[6:]}
    return label


def flag_text(flag) -> str:
    """A follow-up flag's plain sentence in the current language (its note, if any, translated apart)."""
    for note in (FASTING_ASSUMED, SEX_ASSUMED):
        if flag.plain.endswith(note) and flag.plain != note:
            return gettext(flag.plain[: -len(note)]) + gettext(note)
    return gettext(flag.plain)


def say(error: CarekeyError | str) -> str:
    """What a service or domain error says, in the current language. A message made with ``carekey.errors.msg``
    is its template translated, then filled (numbers localized, ``Word`` values translated); a constant message
    was extracted where it is raised and is looked up as it is; a missing consent names the purpose in plain
    words. Anything not in the catalog stays as written (English)."""
    text = error.message if isinstance(error, CarekeyError) else error
    policy_reason = isinstance(text, str) and text.startswith("the person has not granted")
    if isinstance(error, ConsentMissing) and error.detail.get("purpose") and policy_reason:
        purpose = purpose_word(str(error.detail["purpose"]))  # the policy's reason: its purpose, in plain words
        return gettext("the person has not granted (or has revoked) consent for %(purpose)s") % {"purpose": purpose}
    if isinstance(text, Message):
        return gettext(text.template) % {k: _value(k, v) for k, v in text.values.items()}
    return gettext(text) if text else text


#: the policy actions a message may name (``%(action)s``: what needs the person's proof of presence), in words
ACTION = {"set_pin": N_("set or reset the person's portal PIN"), "erase": N_("erase the person's data")}


def _value(key: str, value: object) -> object:
    if key == "action" and isinstance(value, str) and value in ACTION:
        return gettext(ACTION[value])
    if isinstance(value, Word):
        return gettext(value)
    if isinstance(value, float):
        return number(value, 2)
    return value


LEVEL = {"normal": N_("OK"), "watch": N_("WATCH"), "refer": N_("REFER"), "urgent": N_("URGENT")}


def level_word(word: str) -> str:
    return gettext(LEVEL.get(word, word))


def install(env) -> None:
    """Give a Jinja2 environment ``_``/``gettext``/``ngettext`` (new style: autoescaped, %-formatting with names)
    and the format helpers."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.globals.update(
        day=day,
        clock=clock,
        moment=moment,
        number=number,
        urgency_word=urgency_word,
        closed_word=closed_word,
        role_word=role_word,
        sex_word=sex_word,
        purpose_word=purpose_word,
        age_words=age_words,
        flag_text=flag_text,
        level_word=level_word,
        tr=gettext,
        say=say,
        languages=NAMES,
        current_language=current,
    )
