"""What a follow-up answer is: statements with citations numbered like the draft they follow."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rag.types import Assessment, Hit, Reference

NOT_FOUND = "Not found in the sources: nothing retrieved for this case answers the question."


class AnswerPart(BaseModel):
    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = True
    unsupported_reason: str | None = None


class Answer(BaseModel):
    session_id: str
    question: str
    answer: list[AnswerPart]
    references: list[Reference]
    generator: str = "extractive"
    model: str | None = None
    not_saved: str | None = None  # why the turn could not be saved to the session (read-only store)


class Numbering:
    """The draft's reference numbers, extended with new documents in order of first use."""

    def __init__(self, assessment: Assessment) -> None:
        self.references = list(assessment.references)
        self.by_doc = {r.doc_id: r for r in self.references}

    def cite(self, hit: Hit) -> int:
        ref = self.by_doc.get(hit.doc_id)
        if ref is None:
            ref = Reference.of(len(self.references) + 1, [hit])
            self.references.append(ref)
            self.by_doc[ref.doc_id] = ref
        elif hit.chunk_id not in ref.chunk_ids:
            ref.chunk_ids.append(hit.chunk_id)
        return ref.n
