"""Review: what a reviewer decided about a draft, kept as an append-only audit trail.

`audit` keeps the trail (SQLite, beside the sessions): drafts created, criteria accepted or
overridden with a reason, follow-ups, exports, sign-off; who, what and when. `decisions` folds the
trail into the draft as reviewed: overridden statuses with their reasons, the verdict the reviewed
criteria give, and the sign-off. The engine's draft is never changed in place.
"""

from __future__ import annotations

from rag.review.audit import AuditEvent, AuditLog
from rag.review.decisions import Decision, Review, review_of, reviewed

__all__ = ["AuditEvent", "AuditLog", "Decision", "Review", "review_of", "reviewed"]
