"""``/api/helpdesk/report``: the questions left unanswered over a period, grouped into
topics (also as CSV); ``/api/helpdesk/freshness``: sources that may be out of date, with
how often they were cited. See ``assistant.reports``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from assistant.api.deps import ConversationsDep, HandoffsDep, LibraryDep, SettingsDep
from assistant.api.errors import ApiError
from assistant.api.routes.helpdesk import StaffDep
from assistant.api.schemas import error_responses
from assistant.api.schemas.helpdesk import (
    FreshnessOut,
    HandoffReportOut,
    ReportOut,
    StaleOut,
    TopicOut,
)
from assistant.reports import (
    Findings,
    ReportRules,
    Topic,
    approved_uses,
    group,
    report_csv,
    stale_sources,
    unanswered,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/helpdesk", tags=["helpdesk"])

DEFAULT_DAYS = 30
# Days a period may name: its bounds and its default start stay within what a datetime holds.
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9999, 12, 30)
_DAYS = {"ge": FIRST_DAY, "le": LAST_DAY}

Since = Annotated[dt.date | None, Query(description="First day (default: 30 days ago).", **_DAYS)]
Until = Annotated[
    dt.date | None, Query(description="Last day, inclusive (default: today).", **_DAYS)
]


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC of the days asked for."""

    start: dt.datetime
    end: dt.datetime

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()


def _period(since: Since = None, until: Until = None) -> Period:
    """The days asked for; the last 30 days by default."""
    last = until or dt.datetime.now(dt.UTC).date()
    first = since or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    end = dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=1)
    if first > last:
        raise ApiError(422, "'since' is after 'until'.", code="invalid_period", param="since")
    return Period(dt.datetime.combine(first, dt.time(), dt.UTC), end)


PeriodDep = Annotated[Period, Depends(_period)]


@dataclass(frozen=True)
class Grouped:
    findings: Findings
    topics: list[Topic]


def _topics(
    request: Request,
    _: StaffDep,
    settings: SettingsDep,
    conversations: ConversationsDep,
    period: PeriodDep,
) -> Grouped:
    """The period's unanswered questions grouped into topics (staff only: the key is
    checked before any work)."""
    rules = ReportRules(
        evidence_below=settings.report_evidence_below,
        confidence_below=settings.report_confidence_below,
        per_conversation=settings.report_max_per_conversation,
        per_client=settings.report_max_per_client,
    )
    findings = unanswered(conversations.engine, period.start, period.end, rules)
    model = request.app.state.assistant.sentence_embeddings
    encode = request.app.state.report_vectors.encoder(model) if model is not None else None
    return Grouped(findings, group(findings.items, encode, settings.report_similarity))


TopicsDep = Annotated[Grouped, Depends(_topics)]


@router.get("/report", responses=error_responses(401, 422))
def report(
    grouped: TopicsDep,
    period: PeriodDep,
    conversations: ConversationsDep,
    handoffs: HandoffsDep,
) -> ReportOut:
    """Refused, rated-down, handed-off and low-confidence answers of the period, from
    every channel, grouped by meaning into topics, newest topic first; the hand-offs'
    status and time to a first reply; the questions approved answers served."""
    topics = grouped.topics
    stats = handoffs.stats(period.start, period.end)
    waits = sorted(stats.waits)
    return ReportOut(
        since=period.start.date(),
        until=period.last_day,
        questions=sum(topic.count for topic in topics),
        left_out=grouped.findings.matched - len(grouped.findings.items),
        topics=[TopicOut.model_validate(topic, from_attributes=True) for topic in topics],
        handoffs=HandoffReportOut(
            count=stats.count,
            statuses=stats.statuses,
            channels=stats.channels,
            unanswered=stats.unanswered,
            median_first_reply_seconds=waits[len(waits) // 2] if waits else None,
            longest_first_reply_seconds=waits[-1] if waits else None,
        ),
        approved_answers_served=approved_uses(conversations.engine, period.start, period.end),
    )


@router.get(
    "/report.csv",
    responses={
        **error_responses(401, 422),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
    response_class=Response,
)
def report_as_csv(grouped: TopicsDep, period: PeriodDep) -> Response:
    """The report, one row per question with its topic."""
    name = f"unanswered-{period.start.date()}-{period.last_day}.csv"
    return Response(
        report_csv(grouped.topics),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/freshness", responses=error_responses(401, 422))
def freshness(
    _: StaffDep,
    settings: SettingsDep,
    conversations: ConversationsDep,
    library: LibraryDep,
    period: PeriodDep,
    max_age_days: Annotated[int | None, Query(ge=1, le=36500)] = None,
) -> FreshnessOut:
    """Sources dated longer ago than ``max_age_days`` (default: the setting), the most
    cited in the period first: what to check or replace."""
    age = max_age_days or settings.freshness_max_age_days
    sources = stale_sources(
        library.records.documents(),
        conversations.engine,
        max_age_days=age,
        since=period.start,
        until=period.end,
        today=dt.datetime.now(dt.UTC).date(),
    )
    return FreshnessOut(
        max_age_days=age,
        since=period.start.date(),
        until=period.last_day,
        sources=[StaleOut.model_validate(s, from_attributes=True) for s in sources],
    )
