"""Doses per square metre of body surface ('375 mg/m2 weekly x 4'), as mg per dose.

With the body surface area the text states ('BSA 2.00 m2') the dose is computed; else the mg per
dose it states ('(750 mg per dose)') is used; else nothing is guessed.
"""

from __future__ import annotations

import re

_PER_M2 = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*mg\s*/\s*m(?:2|²)", re.I)
_BSA = re.compile(r"\bBSA\s*(?:of\s*|=\s*|:\s*)?(?P<bsa>\d(?:\.\d+)?)\s*m(?:2|²)", re.I)
_PER_DOSE = re.compile(r"\(?\s*(?P<mg>\d[\d,]*(?:\.\d+)?)\s*mg\s+(?:per|each|/)\s*dose\b[^)]*\)?", re.I)


def per_square_metre(text: str) -> tuple[str, str]:
    """'375 mg/m2 ... (BSA 2.00 m2)' as '750 mg ...', with the arithmetic; the stated mg per dose
    when the body surface area is not given. Unchanged (and '') without a dose per m²."""
    m = _PER_M2.search(text)
    if not m:
        return text, ""
    bsa, per_dose = _BSA.search(text), _PER_DOSE.search(text)
    if bsa:
        mg = float(m["n"]) * float(bsa["bsa"])
        how = f"{m['n']} mg/m² x BSA {bsa['bsa']} m² = {mg:g} mg per dose"
    elif per_dose:
        mg = float(per_dose["mg"].replace(",", ""))
        how = f"{m['n']} mg/m² stated as {mg:g} mg per dose"
    else:
        return text, ""
    text = text[: m.start()] + f"{mg:g} mg" + text[m.end() :]
    return _PER_DOSE.sub(" ", text), how
