"""A package's records view: its retention schedule, trigger events, reviews, holds and closure, each with the
form that changes it, and the same under /api/v1/records/packages/{ref}/... .

Records managers are staff: they see a closed record in full, and each look at one is journalled
(accounts.audit.journal_closed_access), as every staff access to a closed record is.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from strongroom import views
from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.model import AccessStatus, PackageSummary
from strongroom.records.access import AccessChange
from strongroom.records.closure import LAST_RECORD, closure_terms, exemptions
from strongroom.records.model import RetentionAssignment, Review, ReviewDecision, ScheduleVersion, TriggerEvent
from strongroom.records.retention import AssignmentChange, ReviewResult, TriggerChange, assign, due_item
from strongroom.records.retention import record_trigger as record_trigger_event
from strongroom.records.retention import review as review_package
from strongroom.records.schedules import schedule_json
from strongroom.web.api_models import (
    API_ERRORS,
    CONFLICT,
    AccessChangedAnswer,
    AccessRulesAnswer,
    AssignedAnswer,
    RetentionAnswer,
    ReviewedAnswer,
    ReviewsAnswer,
    TriggerAnswer,
    TriggersAnswer,
)
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require
from strongroom.web.routes_records_forms import (
    FormError,
    RecordsManager,
    done,
    notice,
    optional,
    parse_day,
    refused_page,
    today,
)

API = "/api/v1/records/packages"
MAX_TEXT = 4000

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT})


# --- reading -------------------------------------------------------------------------------------


def _look(archive: Archive, principal: Principal, summary: PackageSummary, what: str) -> None:
    """Journal a staff look at a package that is closed or restricted today (only then)."""
    if any(not rule.is_open_on(today()) for rule in archive.catalog.access_rules(summary.uuid)):
        from strongroom.accounts.audit import journal_closed_access

        journal_closed_access(archive, principal.operator, summary.uuid, what)


def _retention_view(archive: Archive, summary: PackageSummary) -> dict[str, Any]:
    """The package's schedule and when it falls due (the JSON of GET .../retention)."""
    assignment = archive.catalog.retention(summary.uuid)
    if assignment is None:
        return {"package": summary.uuid, "assignment": None, "schedule": None, "due": None, "action": None,
                "waiting": None, "holds": []}  # fmt: skip
    schedule = archive.catalog.schedule(assignment.code, assignment.version)
    item = due_item(archive.catalog, summary, assignment, today())
    return {
        "package": summary.uuid, "assignment": _assignment_json(assignment),
        "schedule": schedule_json(schedule) if schedule else None,
        "due": item.due.isoformat() if item and item.due else None,
        "action": item.action.value if item else "retain",
        "waiting": item.waiting if item else None, "holds": list(item.holds) if item else [],
    }  # fmt: skip


def _assignment_json(a: RetentionAssignment) -> dict[str, Any]:
    return {"code": a.code, "version": a.version, "assigned": a.assigned.isoformat(), "reason": a.reason,
            "how": a.how, "due_override": a.due_override.isoformat() if a.due_override else None,
            "event": a.event_uuid}  # fmt: skip


def _trigger_json(t: TriggerEvent) -> dict[str, Any]:
    return {"name": t.name, "date": t.date.isoformat(), "recorded": t.recorded.isoformat(), "reason": t.reason,
            "event": t.event_uuid}  # fmt: skip


def _review_json(r: Review) -> dict[str, Any]:
    return {"decision": r.decision.value, "reason": r.reason, "decided": r.decided.isoformat(), "by": r.by,
            "new_due": r.new_due.isoformat() if r.new_due else None, "new_code": r.new_code,
            "new_version": r.new_version, "event": r.event_uuid}  # fmt: skip


def _event_names(schedule: ScheduleVersion | None) -> list[str]:
    names = ["closure"]
    if schedule is not None and schedule.trigger_event and schedule.trigger_event not in names:
        names.append(schedule.trigger_event)
    return names


def _package_context(request: Request, principal: Principal, ref: str) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        summary = archive.package(ref)
        _look(archive, principal, summary, "records view")
        catalog = archive.catalog
        assignment = catalog.retention(summary.uuid)
        schedule = catalog.schedule(assignment.code, assignment.version) if assignment else None
        item = due_item(catalog, summary, assignment, today()) if assignment else None
        context: dict[str, Any] = {
            "summary": summary, "assignment": assignment, "schedule": schedule, "item": item,
            "triggers": catalog.triggers(summary.uuid), "reviews": list(reversed(catalog.reviews(summary.uuid))),
            "holds": catalog.holds(package=summary.uuid), "rules": catalog.access_rules(summary.uuid),
            "schedules": catalog.schedules(), "exemptions": list(exemptions().values()),
            "event_names": _event_names(schedule), "statuses": [s.value for s in AccessStatus],
            "decisions": [d.value for d in ReviewDecision], "notice": notice(request), "form": {}, "today": today(),
        }  # fmt: skip
    return context


@router.get("/records/packages/{ref}", response_class=HTMLResponse, include_in_schema=False)
def package_page(request: Request, ref: str, principal: RecordsManager) -> Response:
    return render(request, "records/package.html", _package_context(request, principal, ref))


def _refused(request: Request, principal: Principal, ref: str, err: StrongroomError, field_id: str,
             form: dict[str, str]) -> Response:  # fmt: skip
    """The records page again with the refusal; a missing reason is linked to its form's reason box."""
    if "reason" in err.message.lower():
        field_id = field_id.split("-")[0] + "-reason"
    context = _package_context(request, principal, ref) | {"form": form}
    return refused_page(request, "records/package.html", context, err, field_id)


@router.get("/records/package", include_in_schema=False, dependencies=[require(Permission.MANAGE_RECORDS)])
def package_lookup(request: Request, ref: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The overview's "open records page" box: the package's records page, by its UUID."""
    if not ref.strip():
        return RedirectResponse("/records", status_code=303)
    with context_of(request).archive() as archive:
        summary = archive.package(ref.strip())
    return RedirectResponse(f"/records/packages/{summary.uuid}", status_code=303)


# --- changing ------------------------------------------------------------------------------------


def _assign(request: Request, ref: str, code: str, reason: str, operator: str) -> AssignmentChange:
    if not code.strip():
        raise FormError("Choose the retention schedule to assign.", "retention-code")
    with context_of(request).archive() as archive:
        return assign(archive, ref, code.strip(), reason=reason, operator=operator)


@router.post("/records/packages/{ref}/retention", response_class=HTMLResponse, include_in_schema=False)
def package_assign(
    request: Request,
    ref: str,
    principal: RecordsManager,
    code: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        change = _assign(request, ref, code, reason, principal.operator)
    except StrongroomError as err:
        return _refused(request, principal, ref, err, "retention-code", {"code": code, "retention_reason": reason})
    key = "assigned" if change.event is not None else "unchanged-assignment"
    return done(f"/records/packages/{change.assignment.package}", key)


def _trigger(request: Request, ref: str, name: str, day: date | None, reason: str | None,
             operator: str) -> TriggerChange:  # fmt: skip
    if not name.strip():
        raise FormError("Enter the name of the event, such as closure.", "trigger-name")
    if day is None:
        raise FormError("Enter the day the event happened.", "trigger-date")
    with context_of(request).archive() as archive:
        return record_trigger_event(archive, ref, name.strip(), day, reason=reason, operator=operator)


@router.post("/records/packages/{ref}/triggers", response_class=HTMLResponse, include_in_schema=False)
def package_trigger(
    request: Request,
    ref: str,
    principal: RecordsManager,
    name: Annotated[str, Form(max_length=200)] = "",
    day: Annotated[str, Form(alias="date", max_length=40)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        when = parse_day(day, "the day the event happened", "trigger-date", required=True)
        change = _trigger(request, ref, name, when, optional(reason), principal.operator)
    except StrongroomError as err:
        form = {"trigger_name": name, "trigger_date": day, "trigger_reason": reason}
        return _refused(request, principal, ref, err, "trigger-name", form)
    return done(f"/records/packages/{change.trigger.package}", "trigger")


def _review(request: Request, ref: str, decision: str, reason: str, extend_to: date | None, code: str | None,
            operator: str) -> ReviewResult:  # fmt: skip
    try:
        chosen = ReviewDecision(decision)
    except ValueError:
        raise FormError(
            "Choose a review decision: extend, re-sentence, destroy or retain.", "review-decision"
        ) from None
    with context_of(request).archive() as archive:
        return review_package(
            archive, ref, chosen, reason=reason, operator=operator,
            new_due=extend_to if chosen is ReviewDecision.EXTEND else None,
            new_code=code if chosen is ReviewDecision.RESENTENCE else None,
        )  # fmt: skip


@router.post("/records/packages/{ref}/reviews", response_class=HTMLResponse, include_in_schema=False)
def package_review(
    request: Request,
    ref: str,
    principal: RecordsManager,
    decision: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    extend_to: Annotated[str, Form(max_length=40)] = "",
    schedule: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        new_due = parse_day(extend_to, "the day to keep it until", "review-extend-to",
                            required=decision == ReviewDecision.EXTEND.value)  # fmt: skip
        if decision == ReviewDecision.RESENTENCE.value and not schedule.strip():
            raise FormError("Choose the schedule to re-sentence it to.", "review-schedule")
        result = _review(request, ref, decision, reason, new_due, optional(schedule), principal.operator)
    except StrongroomError as err:
        form = {"decision": decision, "review_reason": reason, "extend_to": extend_to, "schedule": schedule}
        return _refused(request, principal, ref, err, "review-decision", form)
    return done(f"/records/packages/{result.assignment.package}", "reviewed")


def _access(request: Request, ref: str, operator: str, *, status: str, reason: str, path: str | None,
            until: date | None, start: str | None, period: str | None, exemption: str | None,
            redacted_title: str | None) -> AccessChange:  # fmt: skip
    try:
        chosen = AccessStatus(status)
    except ValueError:
        raise FormError("Choose open, closed or restricted.", "access-status") from None
    terms = closure_terms(start, period, exemption, redacted_title)
    with context_of(request).archive() as archive:
        return archive.set_access(ref, path, chosen, reason, until, operator, terms)


@router.post("/records/packages/{ref}/access", response_class=HTMLResponse, include_in_schema=False)
def package_access(
    request: Request,
    ref: str,
    principal: RecordsManager,
    status: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    path: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    until: Annotated[str, Form(max_length=40)] = "",
    closure_start: Annotated[str, Form(max_length=40)] = "",
    from_last_record: Annotated[str, Form(max_length=10)] = "",
    period: Annotated[str, Form(max_length=40)] = "",
    exemption: Annotated[str, Form(max_length=40)] = "",
    redacted_title: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    form = {"status": status, "access_reason": reason, "path": path, "until": until, "closure_start": closure_start,
            "from_last_record": from_last_record, "period": period, "exemption": exemption,
            "redacted_title": redacted_title}  # fmt: skip
    try:
        opening = parse_day(until, "the day it opens", "access-until")
        start_day = parse_day(closure_start, "the day the closure period runs from", "access-closure-start")
        if start_day is not None and from_last_record:
            raise FormError("Give the day the closure period runs from, or choose the date of the last record, "
                            "not both.", "access-closure-start")  # fmt: skip
        start = LAST_RECORD if from_last_record else (start_day.isoformat() if start_day else None)
        change = _access(request, ref, principal.operator, status=status, reason=reason, path=optional(path),
                         until=opening, start=start, period=optional(period), exemption=optional(exemption),
                         redacted_title=optional(redacted_title))  # fmt: skip
    except StrongroomError as err:
        return _refused(request, principal, ref, err, "access-status", form)
    return done(f"/records/packages/{change.rule.package}", "access")


# --- API -----------------------------------------------------------------------------------------


class AssignRequest(BaseModel):
    code: str = Field(max_length=200, description="The schedule's code (its current version applies).")
    reason: str = Field(default="", max_length=MAX_TEXT)


class TriggerRequest(BaseModel):
    name: str = Field(max_length=200, description="closure, or the NAME of a schedule's event:NAME trigger.")
    date: date
    reason: str | None = Field(default=None, max_length=MAX_TEXT)


class ReviewRequest(BaseModel):
    decision: ReviewDecision
    reason: str = Field(max_length=MAX_TEXT)
    extend_to: date | None = Field(default=None, description="With decision extend: keep it until this day.")
    schedule: str | None = Field(default=None, max_length=200, description="With decision re-sentence.")


class AccessRequest(BaseModel):
    status: AccessStatus
    reason: str = Field(max_length=MAX_TEXT)
    path: str | None = Field(default=None, max_length=MAX_TEXT, description="A file or folder; default: all of it.")
    until: date | None = None
    closure_start: str | None = Field(default=None, max_length=40, description="YYYY-MM-DD or last-record.")
    period: str | None = Field(default=None, max_length=40, description="ISO 8601 duration, e.g. P20Y.")
    exemption: str | None = Field(default=None, max_length=40, description="FOI section or EIR regulation: s.40.")
    redacted_title: str | None = Field(default=None, max_length=MAX_TEXT)


def _summary(request: Request, principal: Principal, ref: str, what: str) -> tuple[PackageSummary, dict[str, Any]]:
    with context_of(request).archive() as archive:
        summary = archive.package(ref)
        _look(archive, principal, summary, what)
        return summary, _retention_view(archive, summary)


@router.get(f"{API}/{{ref}}/retention", response_model=RetentionAnswer, tags=["records"])
def api_retention(request: Request, ref: str, principal: RecordsManager) -> JSONResponse:
    """The package's retention schedule, due date and action (`waiting` says why there is no date yet)."""
    return JSONResponse(_summary(request, principal, ref, "retention (API)")[1])


@router.post(f"{API}/{{ref}}/retention", response_model=AssignedAnswer, tags=["records"])
def api_assign(request: Request, ref: str, body: AssignRequest, principal: RecordsManager) -> JSONResponse:
    """Assign a retention schedule: `retention assign --json`."""
    change = _assign(request, ref, body.code, body.reason, principal.operator)
    a, previous = change.assignment, change.previous
    return JSONResponse({
        "package": a.package, "schedule": {"code": a.code, "version": a.version},
        "previous": {"code": previous.code, "version": previous.version} if previous else None,
        "event": change.event.uuid if change.event else None,
    })  # fmt: skip


@router.get(f"{API}/{{ref}}/triggers", response_model=TriggersAnswer, tags=["records"])
def api_triggers(request: Request, ref: str, principal: RecordsManager) -> JSONResponse:
    """The package's trigger events and their dates."""
    with context_of(request).archive() as archive:
        summary = archive.package(ref)
        _look(archive, principal, summary, "trigger events (API)")
        found = archive.catalog.triggers(summary.uuid)
    return JSONResponse({"package": summary.uuid, "triggers": [_trigger_json(t) for t in found]})


@router.post(f"{API}/{{ref}}/triggers", response_model=TriggerAnswer, tags=["records"])
def api_trigger(request: Request, ref: str, body: TriggerRequest, principal: RecordsManager) -> JSONResponse:
    """Record a trigger event's date: `retention event --json`."""
    t = _trigger(request, ref, body.name, body.date, optional(body.reason), principal.operator).trigger
    return JSONResponse({"package": t.package, "name": t.name, "date": t.date.isoformat(), "event": t.event_uuid})


@router.get(f"{API}/{{ref}}/reviews", response_model=ReviewsAnswer, tags=["records"])
def api_reviews(request: Request, ref: str, principal: RecordsManager) -> JSONResponse:
    """The package's review decisions, oldest first."""
    with context_of(request).archive() as archive:
        summary = archive.package(ref)
        _look(archive, principal, summary, "reviews (API)")
        found = archive.catalog.reviews(summary.uuid)
    return JSONResponse({"package": summary.uuid, "reviews": [_review_json(r) for r in found]})


@router.post(f"{API}/{{ref}}/reviews", response_model=ReviewedAnswer, tags=["records"])
def api_review(request: Request, ref: str, body: ReviewRequest, principal: RecordsManager) -> JSONResponse:
    """Record a review decision (extend, re-sentence, destroy, retain) with its reason: `retention review --json`."""
    result = _review(request, ref, body.decision.value, body.reason, body.extend_to, optional(body.schedule),
                     principal.operator)  # fmt: skip
    a = result.assignment
    return JSONResponse({
        "package": a.package, "decision": result.review.decision.value,
        "due": result.due.isoformat() if result.due else None,
        "schedule": {"code": a.code, "version": a.version}, "event": result.event.uuid,
    })  # fmt: skip


@router.get(f"{API}/{{ref}}/access", response_model=AccessRulesAnswer, tags=["records"])
def api_access(request: Request, ref: str, principal: RecordsManager) -> JSONResponse:
    """The package's access rules (whole package and files or folders) with their closure terms."""
    with context_of(request).archive() as archive:
        summary = archive.package(ref)
        _look(archive, principal, summary, "access rules (API)")
        rules = archive.catalog.access_rules(summary.uuid)
    return JSONResponse({"package": summary.uuid, "rules": [views.access_json(r) for r in rules]})


@router.post(f"{API}/{{ref}}/access", response_model=AccessChangedAnswer, tags=["records"])
def api_set_access(request: Request, ref: str, body: AccessRequest, principal: RecordsManager) -> JSONResponse:
    """Open, close or restrict the package or one file or folder, with closure terms: `access --json`."""
    change = _access(request, ref, principal.operator, status=body.status.value, reason=body.reason,
                     path=optional(body.path), until=body.until, start=optional(body.closure_start),
                     period=optional(body.period), exemption=optional(body.exemption),
                     redacted_title=optional(body.redacted_title))  # fmt: skip
    return JSONResponse(views.access_change_json(change))
