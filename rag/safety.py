"""Retrieved text is data, never instructions: find sentences that try to steer a reviewer."""

from __future__ import annotations

import re

_PATTERNS = [
    r"\b(?:automated|automatic|ai|a\.i\.|artificial intelligence|language model|llm|chat ?bot|bot)s?\b"
    r".{0,40}\b(?:review(?:er|ers|ing)?|system|assistant|model|tool)s?\b",
    r"\b(?:note|message|instruction|attention)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
    r"(?:automated|ai|reviewers?|the reviewer|assistants?|models?)\b",
    r"\bignore\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|other|earlier|policy|criteria)\b",
    r"\bdisregard\s+(?:the\s+|all\s+|any\s+)?(?:previous|prior|above|policy|criteria|instructions)\b",
    r"\b(?:you|reviewers?)\s+(?:must|should|are instructed to|are required to)\s+"
    r"(?:approve|state|say|conclude|output|write|answer|mark|find)\b",
    r"\bsystem prompt\b",
    r"\b(?:approve|mark)\s+(?:this|the)\s+(?:request|case|authorization)\b.{0,60}\b(?:state|say|conclude)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I)


def looks_like_instruction(text: str) -> bool:
    """True when the text addresses an automated reviewer or tells it what to conclude."""
    return _INJECTION.search(text) is not None
