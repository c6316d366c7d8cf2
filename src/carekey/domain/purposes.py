"""The closed set of purposes for which personal data may be processed.

Anything else is refused before the policy engine runs. Some purposes are named explicitly in
``REFUSED`` so that the public refusal counts can show them by name; any unknown string is refused
and counted as ``other``.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from carekey.errors import RefusedPurpose, msg


class Purpose(StrEnum):
    CARE_RECORD = "care_record"  # read/write the person's record and exams during a visit
    BIOMETRIC_IDENTIFICATION = "biometric_identification"  # capture, enroll and search biometrics
    # keep the enrollment images (encrypted under the person's key) to renew templates without a new capture;
    # opt-in, separate, and only together with biometric_identification
    BIOMETRIC_IMAGE_RETENTION = "biometric_image_retention"
    AGGREGATE_STATISTICS = "aggregate_statistics"  # differentially private releases only
    # each closed visit pushed (FHIR transaction Bundle) to the EMR of the screening site's clinic; per person
    EHR_SHARING = "ehr_sharing"
    PATIENT_ACCESS = "patient_access"  # the person reading/exporting/revoking their own data
    AUDIT = "audit"  # verifying the transparency log; never reads records
    ADMINISTRATION = "administration"  # users, sites and keys; never reads records


#: The purposes a person grants or refuses in the consent form (a purpose comes after those it depends on).
CONSENT_PURPOSES = (
    Purpose.CARE_RECORD,
    Purpose.BIOMETRIC_IDENTIFICATION,
    Purpose.BIOMETRIC_IMAGE_RETENTION,
    Purpose.AGGREGATE_STATISTICS,
    Purpose.EHR_SHARING,
)

#: A consent purpose that is meaningful only while another is granted: granting it alone is refused, and
#: revoking the other revokes it too.
DEPENDS_ON = {Purpose.BIOMETRIC_IMAGE_RETENTION: Purpose.BIOMETRIC_IDENTIFICATION}

#: Purposes carekey never serves, counted publicly by name when someone asks for them.
REFUSED = frozenset(
    {
        "law_enforcement",
        "security",
        "watchlist",
        "persons_of_interest",
        "kinship",
        "family_linkage",
        "dna_identification",
        "bulk_export",
        "immigration",
    }
)


#: Words that name a refused purpose in other terms (after normalization), mapped to its public label. The public
#: count must not hide a request from the police under "other" because it said "police" or "immigration".
SYNONYMS = {
    "lawenforcement": "law_enforcement",
    "police": "law_enforcement",
    "policing": "law_enforcement",
    "investigation": "law_enforcement",
    "criminalinvestigation": "law_enforcement",
    "warrant": "law_enforcement",
    "court": "law_enforcement",
    "courtorder": "law_enforcement",
    "prosecution": "law_enforcement",
    "crime": "law_enforcement",
    "policia": "law_enforcement",
    "polizei": "law_enforcement",
    "gendarmerie": "law_enforcement",
    "justice": "law_enforcement",
    "criminal": "law_enforcement",
    "forensic": "law_enforcement",
    "forensics": "law_enforcement",
    "subpoena": "law_enforcement",
    "arrest": "law_enforcement",
    "intelligence": "security",
    "nationalsecurity": "security",
    "surveillance": "security",
    "counterterrorism": "security",
    "military": "security",
    "defence": "security",
    "defense": "security",
    "migration": "immigration",
    "border": "immigration",
    "bordercontrol": "immigration",
    "deportation": "immigration",
    "inmigracion": "immigration",
    "immigracion": "immigration",
    "asylum": "immigration",
    "customs": "immigration",
    "personofinterest": "persons_of_interest",
    "suspect": "persons_of_interest",
    "suspects": "persons_of_interest",
    "wanted": "persons_of_interest",
    "blacklist": "watchlist",
    "watchlisting": "watchlist",
    "family": "kinship",
    "familytracing": "kinship",
    "relatives": "kinship",
    "paternity": "kinship",
    "dna": "dna_identification",
    "genetic": "dna_identification",
    "geneticidentification": "dna_identification",
    "export": "bulk_export",
    "bulk": "bulk_export",
    "dump": "bulk_export",
    "datadump": "bulk_export",
    "download": "bulk_export",
    "massexport": "bulk_export",
    # other languages (after accents are stripped) and agencies
    "polis": "law_enforcement",
    "politie": "law_enforcement",
    "politi": "law_enforcement",
    "polisi": "law_enforcement",
    "polizia": "law_enforcement",
    "policie": "law_enforcement",
    "poliisi": "law_enforcement",
    "milicja": "law_enforcement",
    "militsiya": "law_enforcement",
    "gendarmeria": "law_enforcement",
    "carabinieri": "law_enforcement",
    "strafverfolgung": "law_enforcement",
    "ermittlung": "law_enforcement",
    "enquete": "law_enforcement",
    "interpol": "law_enforcement",
    "europol": "law_enforcement",
    "fbi": "law_enforcement",
    "полиция": "law_enforcement",
    "милиция": "law_enforcement",
    "поліція": "law_enforcement",
    "警察": "law_enforcement",
    "公安": "law_enforcement",
    "الشرطة": "law_enforcement",
    "شرطة": "law_enforcement",
    "पुलिस": "law_enforcement",
    "renseignement": "security",
    "renseignements": "security",
    "geheimdienst": "security",
    "inteligencia": "security",
    "espionage": "security",
    "spy": "security",
    "spying": "security",
    "cia": "security",
    "nsa": "security",
    "kgb": "security",
    "fsb": "security",
    "stasi": "security",
    "разведка": "security",
    "情报": "security",
    "immigrazione": "immigration",
    "einwanderung": "immigration",
}
# Letters of other scripts that look like Latin ones (a subset of Unicode TR39 confusables: Cyrillic and Greek
# lower case, after casefolding): "lаw_enforcement" with a Cyrillic "а" is law enforcement all the same. Written
# here because the standard library has no confusables table and the subset is small.
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x",
    }
)  # fmt: skip
_COMPACT_REFUSED = {r.replace("_", ""): r for r in REFUSED}


def _normalize(raw: str) -> str:
    """Case, Unicode width (NFKC folds full-width letters), accents, punctuation and spacing."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "_", text).strip("_")


def refusal_label(raw: str) -> str:
    """The public counting label of a refused purpose: the closest refused category (by name, spelled in any case,
    width, punctuation, spacing or look-alike letters of another script, or by a common synonym such as
    ``police``, ``полиция`` or ``renseignement``), else ``other``."""
    norm = _normalize(raw)
    latin = norm.translate(_LOOKALIKES)
    if latin in REFUSED or latin.replace("_", "") in _COMPACT_REFUSED:  # a category's own name wins
        return _label(latin)
    label = _label(norm)  # as written (Cyrillic, Arabic, Chinese synonyms stay in their script)
    return label if label != "other" else _label(latin)


def _label(norm: str) -> str:
    if norm in REFUSED:
        return norm
    compact = norm.replace("_", "")
    if compact in _COMPACT_REFUSED:
        return _COMPACT_REFUSED[compact]
    if compact in SYNONYMS:
        return SYNONYMS[compact]
    for word in norm.split("_"):  # e.g. "police_request", "for_immigration"
        if word in SYNONYMS:
            return SYNONYMS[word]
    for refused in sorted(REFUSED):
        if refused.replace("_", "") in compact:  # e.g. "lawenforcementrequest"
            return refused
    for synonym, refused in SYNONYMS.items():  # inside a longer word, or a script written without spaces
        if (len(synonym) >= 5 or not synonym.isascii()) and synonym in compact:
            return refused
    return "other"


def parse_purpose(raw: str) -> Purpose:
    """Return the Purpose or raise RefusedPurpose with an explanation (HTTP 403)."""
    norm = raw.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Purpose(norm)
    except ValueError:
        pass
    label = refusal_label(raw)
    if label != "other":
        raise RefusedPurpose(
            msg(
                "carekey never processes data for %(label)s: data collected for care is used only for the "
                "person's own care, their own access, and privacy-protected aggregate statistics.",
                label=repr(label),
            ),
            purpose=label,
        )
    raise RefusedPurpose(
        msg(
            "%(raw)s is not a purpose carekey serves; allowed purposes: %(allowed)s.",
            raw=repr(raw),
            allowed=", ".join(p.value for p in Purpose),
        ),
        purpose="other",
    )
