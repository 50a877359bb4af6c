"""How questions name the drug and the indication: words around them, in any reasonable phrasing.

'Is X 40 mg ... indicated for a 52-year-old with Y', 'Should this patient receive X ...', 'Is
continuation of X appropriate', 'renew X ... for Y', 'qualify for X after 12 weeks of Z' (Z was tried,
X is asked for). Generic words of requests only: no drug or condition names.
"""

from __future__ import annotations

import re

_LEAD_WORDS = {
    "is",
    "are",
    "should",
    "would",
    "does",
    "maintenance",
    "continued",
    "the",
    "a",
    "an",
    "of",
    "for",
    "with",
    "request",
    "requested",
    "initial",
    "new",
    "start",
    "starting",
    "dose",
    "doses",
    "weekly",
    "once",
    "then",
    "every",
    "and",
    "or",
    "iv",
    "sc",
    # verbs and nouns of a request ('Should this patient receive X', 'Is continuation of X ...')
    "receive",
    "receiving",
    "get",
    "give",
    "given",
    "use",
    "using",
    "take",
    "taking",
    "continue",
    "continuing",
    "continuation",
    "renew",
    "renewal",
    "reauthorize",
    "reauthorization",
    "approve",
    "approval",
    "authorize",
    "be",
    "to",
    "this",
    "patient",
    "on",
    "can",
    "could",
    "may",
    "will",
    "do",
    "please",
    "qualify",
}
# Before the requested drug ('qualify for X', 'receive X', 'renew X') or before a drug the
# patient has already had ('after 12 weeks of X', 'failed X', 'on X'): how a question with two
# drugs and doses says which one is asked for.
_ASKED_BEFORE = re.compile(
    r"(?:\bqualif\w* for|\breceive|\bstart(?:ing)?|\brenew(?:al of)?|\bcontinu\w*(?: of)?|\bapprov\w*|"
    r"\bauthori[sz]\w*|\brequest\w*:?|^\s*(?:is|are|should|would|does|can|could|may)|\bof)\s*$",
    re.I,
)
_HAD_BEFORE = re.compile(
    r"(?:\bafter|\bdespite|\bfailed|\btried|\bon|\btaking|\bweeks? of|\bmonths? of|\btrial of|"
    r"\bcourse of|\bwith|\bthan)\s*(?:\d+\s*\w+\s+of\s+)?$",
    re.I,
)
_INDICATION = [
    re.compile(
        r"\bfor\s+(?P<x>[^?]+?)\s+in\s+(?:this|the|a|an)\s+(?:\w+\s+){0,3}?(?:patient|adult|child|member|woman|man|person)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:patient|adult|child|member|woman|man|person|adolescent)\s+with\s+(?:an?\s+)?(?P<x>[^?]+?)(?=\s+who\b|\s+after\b|\s+despite\b|\s+(?:meets?|qualif\w*|satisf\w*)\b|,|\?|$)",
        re.I,
    ),
    re.compile(
        r"\bfor\s+(?:the\s+)?(?:treatment|management|prevention)\s+of\s+(?P<x>[^?]+?)(?=\s+who\b|,|\?|$)",
        re.I,
    ),
    # 'for a 52-year-old with hidradenitis suppurativa who ...'
    re.compile(
        r"\b\d{1,3}[- ](?:year|month)s?[- ]old\s+(?:\w+\s+){0,2}?with\s+(?:an?\s+)?(?P<x>[^?]+?)"
        r"(?=\s+who\b|\s+after\b|\s+despite\b|\s+(?:meets?|qualif\w*|satisf\w*)\b|,|\?|$)",
        re.I,
    ),
    # 'being evaluated for giant cell arteritis', 'suspected of having ...'
    re.compile(
        r"\b(?:being\s+)?(?:evaluated|worked\s+up|assessed|investigated)\s+for\s+(?:possible\s+|suspected\s+)?"
        r"(?P<x>[^?]+?)(?=\s+with\b|\s+who\b|,|\?|$)",
        re.I,
    ),
    # 'renew X 300 mg every 4 weeks for chronic plaque psoriasis after a year of treatment'
    re.compile(
        r"\b(?:weeks?|daily|monthly|dose|doses|infusions?|(?:IV|SC|subcutaneously|intravenously))\s+for\s+"
        r"(?!(?:this|the|a|an|\d)\b)(?P<x>[a-z][^?]+?)(?=\s+who\b|\s+after\b|\s+despite\b|\s+since\b|"
        r"\s+in\s+(?:this|a|an|the)\b|[,.;]|\?|$)",
        re.I,
    ),
    # 'Is X indicated for plaque psoriasis?', 'medically necessary for Crohn's disease'
    re.compile(
        r"\b(?:indicated|necessary|appropriate|approved|covered)\s+for\s+(?!(?:this|the|a|an)\s)"
        r"(?P<x>[^?]+?)(?=\s+who\b|\s+after\b|\s+in\s+(?:this|a|an|the)\b|,|\?|$)",
        re.I,
    ),
]
