"""Drug classes and test names from data/lexicon.yaml (general pharmacology, no case data)."""

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
