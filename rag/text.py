"""Text helpers every stage shares: shortening at a word boundary, first sentences, amounts."""

from __future__ import annotations

import re

ELLIPSIS = "…"


def shorten(text: str, size: int) -> str:
    """`text` in at most `size` characters, cut at a word boundary and marked with an ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) <= size:
        return flat
    cut = flat[: size - 1]
    if " " in cut and not flat[size - 1].isspace():
        cut = cut[: cut.rindex(" ")]  # never cut a word in half
    return cut.rstrip(" ,;:-([{") + ELLIPSIS


_EMPHASIS = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


def plain(text: str) -> str:
    """Text as a reader sees it: Markdown emphasis and code marks removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", _EMPHASIS.sub("", text)).strip()


def first_sentence(text: str, size: int = 200) -> str:
    """The first sentence of a rationale, shortened to `size` characters."""
    return shorten(re.split(r"(?<=[.)])\s+(?=[A-Z])", text.strip())[0], size)


def amount(value: float, *, grouped: bool = False) -> str:
    """A dose amount as readers write it: whole from 1,000 up, one decimal from 1, else 3 digits.

    1200 -> '1200' ('1,200' grouped), 133.33 -> '133.3', 9.6 -> '9.6', 80.0 -> '80', 0.025 -> '0.025'.
    """
    if abs(value) >= 1000:
        return f"{value:,.0f}" if grouped else f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.3g}"
