"""Abbreviation definitions found in the text itself (Schwartz & Hearst, PSB 2003).

"chronic obstructive pulmonary disease (COPD)" teaches us what COPD stands for, so a question
that says "severe COPD" can be matched against a policy that spells it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,9})\)")


def _best_long_form(short: str, candidate: str) -> str | None:
    """Shortest suffix of candidate whose letters spell short (S&H's algorithm)."""
    s_idx, l_idx = len(short) - 1, len(candidate) - 1
    while s_idx >= 0:
        ch = short[s_idx].lower()
        if not ch.isalnum():
            s_idx -= 1
            continue
        while l_idx >= 0 and (
            candidate[l_idx].lower() != ch or (s_idx == 0 and l_idx > 0 and candidate[l_idx - 1].isalnum())
        ):
            l_idx -= 1
        if l_idx < 0:
            return None
        l_idx -= 1
        s_idx -= 1
    start = candidate.rfind(" ", 0, l_idx + 1) + 1
    return candidate[start:].strip()


def find_definitions(texts: Iterable[str]) -> dict[str, str]:
    """Map of short form (upper-cased as written) to its long form."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _PAREN.finditer(text):
            short = match.group(1)
            if not any(c.isupper() for c in short) or short.lower() == short:
                continue
            words = text[: match.start()].rstrip().split()
            window = words[-min(len(short) + 5, len(short) * 2) :]
            long_form = _best_long_form(short, " ".join(window))
            if long_form and len(long_form) > len(short) and short not in found:
                found[short] = long_form.strip(" ,;:")
    return found


def expand(text: str, definitions: dict[str, str]) -> str:
    """Text with each defined short form followed by its long form in parentheses."""

    def repl(match: re.Match) -> str:
        word = match.group(0)
        long_form = definitions.get(word)
        return f"{word} ({long_form})" if long_form else word

    return re.sub(r"\b[A-Za-z][A-Za-z0-9\-]{1,9}\b", repl, text)
