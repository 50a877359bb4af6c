"""A follow-up answer as Markdown: the question, cited statements, the references it cites."""

from __future__ import annotations

from rag.followup.answers import Answer
from rag.rendering import ama


def answer_markdown(result: Answer) -> str:
    lines = [f"> {result.question}", ""]
    for part in result.answer:
        marker = f" [{', '.join(map(str, part.citations))}]" if part.citations else ""
        warning = f" [unsupported: {part.unsupported_reason}]" if not part.supported else ""
        lines.append(f"- {part.text}{marker}{warning}")
    cited = {n for p in result.answer for n in p.citations}
    refs = [r for r in result.references if r.n in cited]
    if refs:
        lines += ["", "References:"]
        lines += [f"{r.n}. {ama.markdown(r)}" for r in refs]
    return "\n".join(lines) + "\n"
