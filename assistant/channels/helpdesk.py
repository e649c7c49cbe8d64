"""Tools for export-help-desk staff: passages with the words searched for marked, a
reply to edit and paste, and the answers users rated down.

Highlights are character offsets into the passage (what any client can use) and
the same passage as escaped HTML with ``<mark>`` (what a page can show as is). A
word is marked when it folds to a searched token the way the BM25 index folds it
("Invoices" for "invoice", "déclaration" for "declaration").
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.answer import Answer
from assistant.channels.phone import source_lines
from assistant.conversations import FeedbackRecord, TurnRecord
from assistant.language import message
from assistant.lexical import tokenize

__all__ = ["Highlighted", "Review", "highlight", "recent_reviews", "suggested_reply"]

_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Highlighted:
    spans: list[tuple[int, int]]  # [start, end) of each marked word
    terms: list[str]  # the words marked, as they are written, once each
    html: str


def highlight(text: str, query: str) -> Highlighted:
    """The words of ``text`` that match a token of ``query``."""
    wanted = set(tokenize(query))
    spans = [
        (found.start(), found.end())
        for found in _WORD.finditer(text)
        if wanted.intersection(tokenize(found.group()))
    ]
    parts, last = [], 0
    for start, end in spans:
        parts += [html.escape(text[last:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        last = end
    parts.append(html.escape(text[last:]))
    terms = list(dict.fromkeys(text[start:end] for start, end in spans))
    return Highlighted(spans, terms, "".join(parts))


def suggested_reply(answer: Answer, public_url: str | None) -> str:
    """The answer as plain text an agent can edit and paste: the text, the notices,
    then the numbered sources with dates and links."""
    parts = [answer.text, *answer.notices]
    if answer.citations:
        heading = message("button_sources", answer.language)
        parts.append(f"{heading}:\n" + "\n".join(source_lines(answer.citations, public_url)))
    return "\n\n".join(part for part in parts if part)


@dataclass(frozen=True)
class Review:
    conversation_id: str
    turn: int
    question: str
    answer: str
    citations: list[dict]
    language: str
    comment: str | None
    rated_at: dt.datetime
    downs: int  # answers of the conversation rated down, this one included


def recent_reviews(engine: Engine, limit: int) -> list[Review]:
    """The latest answers rated down, newest first, with the user's comment: one per
    conversation (its latest), so that one conversation cannot fill the list."""
    with Session(engine) as session:
        latest = (
            select(
                func.max(FeedbackRecord.id).label("feedback_id"),
                func.count().label("downs"),
            )
            .join(TurnRecord, FeedbackRecord.turn_id == TurnRecord.id)
            .where(FeedbackRecord.rating == "down")
            .group_by(TurnRecord.conversation_id)
            .subquery()
        )
        rows = session.execute(
            select(TurnRecord, FeedbackRecord, latest.c.downs)
            .join(FeedbackRecord, FeedbackRecord.turn_id == TurnRecord.id)
            .join(latest, latest.c.feedback_id == FeedbackRecord.id)
            .order_by(FeedbackRecord.created_at.desc(), FeedbackRecord.id.desc())
            .limit(limit)
        ).all()
        return [
            Review(
                conversation_id=turn.conversation_id,
                turn=turn.n,
                question=turn.question,
                answer=turn.answer,
                citations=list(turn.citations),
                language=turn.language,
                comment=feedback.comment,
                rated_at=feedback.created_at,
                downs=downs,
            )
            for turn, feedback, downs in rows
        ]
