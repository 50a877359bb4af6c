"""Retrieved text is data, never instructions: find sentences that try to steer a reviewer.

A sentence is instruction-like when it addresses an automated reviewer, system, assistant or
model; tells the reader to ignore or override the policy, the criteria or earlier instructions;
tells it what to conclude ("approve this request", "mark all criteria as met"); or carries a chat
role marker ("Assistant: ...", "<|im_start|>system"). English, German, French, Spanish and Italian
forms are covered (tests/rag/test_injection.py holds the suite). A clinician's letter asking the
plan to approve a request is not matched: it is addressed to a person and decides nothing here.
"""

from __future__ import annotations

import re
from functools import lru_cache

_MACHINE = (
    r"(?:automated|automatic|ai|a\.i\.|artificial intelligence|language model|llm|chat ?bot|bot|"
    r"review(?:ing)? (?:system|tool|engine|software|model|assistant)|system|assistant|model|tool)s?"
)
_RULES = (
    r"(?:previous|prior|above|earlier|other|all|any|the|your)?\s*"
    r"(?:instructions?|rules?|policy|policies|criteria|guidelines?|prompt)"
)
_PATTERNS = [
    # addressed to a machine reader
    r"\b(?:automated|automatic|ai|a\.i\.|artificial intelligence|language model|llm|chat ?bot|bot)s?\b"
    r".{0,40}\b(?:review(?:er|ers|ing)?|system|assistant|model|tool)s?\b",
    rf"\b(?:note|message|instruction|attention|directive|command)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
    rf"(?:reviewers?\b|{_MACHINE}\b)",
    rf"^\s*(?:to\s+)?(?:the\s+)?{_MACHINE}\s*[:,]\s*(?:you|please|do|ignore|approve|output|state|mark|set)\b",
    rf"^\s*(?:attention|note|hey|dear|hello)\s*,?\s*(?:the\s+)?(?:{_MACHINE}|reviewers?)\s*[:,]",
    # ignore / disregard / override the rules
    rf"\b(?:ignore|disregard|forget|bypass|skip)\s+(?:all\s+|any\s+)?{_RULES}\b",
    r"\boverride\b.{0,60}\b(?:approv\w*|deny|denial|criteri\w*|policy|verdict|status|decision|rules?)\b",
    r"^\s*override\s*:",
    # telling the reader what to conclude
    r"\b(?:you|reviewers?|the model|the assistant|the system)\s+(?:must|should|shall|will|are instructed to|"
    r"are required to|need to)\s+"
    r"(?:approve|state|say|conclude|output|write|answer|mark|find|treat|set|return)\b",
    r"^\s*(?:approve|authori[sz]e)\s+(?:this|the)\s+(?:request|claim|case|authorization|medication)\b",
    r"\b(?:mark|treat|consider|set|report)\s+(?:all\s+|every\s+|each\s+)?(?:the\s+)?criteri(?:on|a)\s+(?:as\s+)?"
    r"(?:met|satisfied|fulfilled)\b",
    r"\b(?:set|change|switch)\s+(?:the\s+)?(?:verdict|status|decision|outcome)\s+to\b",
    r"\bregardless of (?:the\s+)?(?:policy|criteria|record|documentation|evidence)\b"
    r".{0,40}\b(?:approv\w*|indicated|met)\b",
    r"\bsystem prompt\b|\bjailbreak\b|\bdeveloper mode\b",
    r"\b(?:approve|mark)\s+(?:this|the)\s+(?:request|case|authorization)\b.{0,60}\b(?:state|say|conclude)\b",
    # chat role markers and template tokens
    r"^\s*(?:system|assistant|user|developer)\s*(?::|>|-{1,2}>)",
    r"<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>|\[/?(?:INST|SYS)\]|<<\s*SYS\s*>>",
    # German, French, Spanish, Italian
    r"\bignorier(?:e|en|t)?\b.{0,40}\b(?:anweisung\w*|richtlinie\w*|kriterien|regeln|vorgaben)\b",
    r"\b(?:genehmig(?:e|en|t)|bewillig(?:e|en|t))\b.{0,40}\b(?:antrag|anfrage|verordnung)\b"
    r".{0,40}\b(?:sofort|unbedingt|trotzdem|in jedem fall)\b",
    r"\b(?:ignorez|ignore[rz]?|oubliez)\b.{0,40}\b(?:instructions?|consignes?|politique|crit[eè]res|r[eè]gles)\b",
    r"\bapprouvez\b.{0,40}\b(?:demande|dossier)\b",
    r"\b(?:ignora|ignore|ignorar|olvida)\b.{0,40}\b(?:instrucciones|pol[ií]tica|criterios|reglas)\b",
    r"\b(?:aprueba|apruebe|aprobar)\b.{0,40}\b(?:solicitud|petici[oó]n)\b",
    r"\b(?:ignora|ignorate|dimentica)\b.{0,40}\b(?:istruzioni|politica|criteri|regole)\b",
    r"\b(?:approva|approvate)\b.{0,40}\b(?:richiesta|domanda)\b",
    r"\b(?:an (?:das|den) (?:system|ki|modell)|au syst[eè]me|al sistema|al modelo|al modello)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.I | re.M)


FLAG_KIND = "injected_instruction"


@lru_cache(maxsize=8192)  # every draft re-reads the same passages' sentences
def looks_like_instruction(text: str) -> bool:
    """True when the text addresses an automated reviewer or tells it what to conclude."""
    return _INJECTION.search(text) is not None


def flag_message(doc_id: str, sentence: str) -> str:
    """The reader's warning: which document, and the text that was ignored (whole or cut at a word)."""
    from rag.text import shorten

    return (
        f"{doc_id} contains instruction-like text addressed to a reviewer or a model; it was ignored "
        f'as data: "{shorten(sentence, 160)}"'
    )


def injection_flags(hits: list, already: list) -> list:
    """A flag for each instruction-like sentence in the passages a draft read (literature and
    policies included) that no flag names yet."""
    from rag.retrieval.passages import text_sentences
    from rag.types import Flag

    said = {f.message for f in already if f.kind == FLAG_KIND}
    out = []
    for hit in hits:
        for sentence in text_sentences(hit.text):
            if looks_like_instruction(sentence):
                message = flag_message(hit.doc_id, sentence)
                if message not in said and not any(sentence[:60] in m for m in said):
                    said.add(message)
                    out.append(Flag(kind=FLAG_KIND, message=message, chunk_ids=[hit.chunk_id]))
    return out
