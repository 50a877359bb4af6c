"""Drug classes, test names and specialties from data/lexicon.yaml (general data, no case data)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

_PATH = Path(__file__).parent / "data" / "lexicon.yaml"
_POTENCY = re.compile(r"\b(super-high|low|medium|high)\b", re.I)


@lru_cache(maxsize=1)
def _data() -> dict:
    return yaml.safe_load(_PATH.read_text(encoding="utf-8"))


def _spans(text: str, phrase: str) -> list[tuple[int, int]]:
    pattern = re.escape(phrase).replace(r"\ ", r"[\s-]+")
    return [m.span() for m in re.finditer(rf"(?<![\w]){pattern}s?(?![\w])", text, re.I)]


def _contains(text: str, phrase: str) -> bool:
    return bool(_spans(text, phrase))


def _named_classes(text: str) -> list[str]:
    """Class names found in text; a name inside a longer match does not count."""
    hits = [(name, span) for name in _data()["classes"] for span in _spans(text, name)]
    keep = []
    for name, (s, e) in hits:
        inside = any((os <= s and e <= oe) and (oe - os) > (e - s) for _, (os, oe) in hits)
        if not inside and name not in keep:
            keep.append(name)
    return keep


def class_members(text: str) -> tuple[list[str], list[str]]:
    """(qualifying members, related members) of the drug classes named in text.

    A class with potency tiers accepts only the tiers the text names ("medium-to-high potency
    topical corticosteroid"); its other tiers are returned as related (tried, but not enough).
    """
    qualifying: list[str] = []
    related: list[str] = []
    for name in _named_classes(text):
        members = _data()["classes"][name]
        if isinstance(members, dict):
            tiers = members["potency"]
            named = {m.lower() for m in _POTENCY.findall(text)}
            if "medium" in named and "high" in named:
                named |= {"super-high"}
            for tier, names in tiers.items():
                (qualifying if not named or tier in named else related).extend(names)
        else:
            qualifying.extend(members)
    return list(dict.fromkeys(qualifying)), list(dict.fromkeys(related))


def test_names(text: str) -> list[str]:
    """Names notes use for the tests a criterion names."""
    names: list[str] = []
    for name, aliases in _data()["tests"].items():
        if _contains(text, name) or any(_contains(text, a) for a in aliases if len(a) > 3):
            names.extend(aliases)
    return list(dict.fromkeys(names))


def class_names(text: str) -> list[str]:
    """The drug classes a text names (the longest match wins: 'TNF inhibitor', not 'inhibitor')."""
    return _named_classes(text)


def drug_names(text: str) -> list[str]:
    """The drugs a text names, as the lexicon spells them (members of any class)."""
    members = {
        m
        for value in _data()["classes"].values()
        for m in (
            value if isinstance(value, list) else [x for tier in value["potency"].values() for x in tier]
        )
    }
    lowered = text.lower()  # a name's first word must occur as such: skip the regex when it cannot
    found = [m for m in members if len(m) > 3 and m.split()[0].lower() in lowered and _contains(text, m)]
    # in text order; at one position the longest name first ('cromolyn sodium' before 'cromolyn')
    return sorted(found, key=lambda m: (text.lower().find(m.lower()), -len(m), m))


def synonyms(name: str) -> list[str]:
    """Other names of the same drug ('immune globulin intravenous' for 'IVIG'); [] when none."""
    for group in _data().get("synonyms", []):
        if any(name.strip().lower() == g.lower() for g in group):
            return [g for g in group if g.lower() != name.strip().lower()]
    return []


def generic_heads() -> list[str]:
    """Head nouns too general to name one disease ('syndrome'; 'arthritis': rheumatoid or psoriatic)."""
    return list(_data().get("generic_disease_heads", []))


def tests_named(text: str) -> list[str]:
    """The lexicon's names of the tests a text names ('tuberculosis screening' for 'IGRA')."""
    return [
        name
        for name, aliases in _data()["tests"].items()
        if _contains(text, name) or any(_contains(text, a) for a in aliases if len(a) > 2 or a.isupper())
    ]


def specialties(text: str) -> list[str]:
    """The specialists a text names ('rheumatologist or dermatologist')."""
    return [name for name in _data()["specialties"] if _contains(text, name)]


def specialty_aliases(name: str) -> list[str]:
    """How notes name a specialist's specialty ('dermatology' for 'dermatologist')."""
    return list(_data()["specialties"].get(name, [name]))


def umbrella_classes(members: list[str]) -> list[str]:
    """Class names most of whose members are among `members` ('biologic' for a list of
    monoclonal antibodies): how notes deny a whole class ('never taken any biologic')."""
    wanted = {m.lower() for m in members}
    out = []
    for name, value in _data()["classes"].items():
        if isinstance(value, list) and value:
            overlap = sum(v.lower() in wanted for v in value) / len(value)
            if overlap >= 0.5:
                out.append(name)
    return out


def tests() -> dict[str, list[str]]:
    """Test names and how notes call them."""
    return dict(_data()["tests"])


def specialty_names() -> list[str]:
    return list(_data()["specialties"])


def classes_of(drug: str) -> list[str]:
    """Every class of the lexicon that lists the drug among its members (a drug may be in several)."""
    wanted = drug.lower()
    out = []
    for name, value in _data()["classes"].items():
        members = (
            value if isinstance(value, list) else [x for tier in value["potency"].values() for x in tier]
        )
        if any(m.lower() == wanted for m in members):
            out.append(name)
    return out


def note_section_titles() -> dict[str, list[str]]:
    """Section titles of clinical notes beyond medspaCy's defaults, by category ('plan': ['plan:'])."""
    return {k: list(v) for k, v in (_data().get("note_sections") or {}).items()}
