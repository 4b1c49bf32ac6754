"""What the OpenAPI document says the API answers: the one error shape every failure uses, and the success
shapes of the JSON the CLI prints (named by their main fields; `extra="allow"` because the CLI's views carry
more, which the document does not promise)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorAnswer(BaseModel):
    """Every error: what went wrong and what to do next (the CLI's --json error shape). A few errors add a
    field of their own (an upload's `received` bytes)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="What went wrong, in plain words.")
    hint: list[str] = Field(description="What to do next; may be empty.")


ERROR_TEXT = {
    400: "The request cannot be done as asked (the error says why)",
    401: "Not signed in: send a valid API token as `Authorization: Bearer TOKEN`",
    403: "The account's role may not do this",
    404: "No such thing, or not one the caller may see",
    409: "It cannot be done in its present state (approvals, holds, a job already running)",
    413: "What was sent is larger than the service accepts",
    422: "A parameter or field of the request is not valid",
    429: "Too many attempts: wait for the time in the Retry-After header",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the given error statuses, each with the shared error model."""
    return {code: {"model": ErrorAnswer, "description": ERROR_TEXT[code]} for code in codes}


# Every API operation may answer these (authentication, permission, bad or unknown input, rate limits).
API_ERRORS = error_responses(400, 401, 403, 404, 422, 429)
# Operations that change something in a stateful way, or take uploads, add these.
CONFLICT = error_responses(409)
TOO_LARGE = error_responses(413)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PackageListItem(_Open):
    """A package as `strongroom list --json` prints it, with its access status today, last audit and fixity."""

    package: str
    name: str
    title: str | None
    created: str
    version: int
    updated: str | None
    files: int
    bytes: int
    access: str = Field(description="open, closed or restricted: the status today")
    opening_date: str | None = Field(description="When a closed or restricted package opens, if a date is set")
    copies: int
    last_audit: str | None = Field(description="The least recently checked copy's check; null if one never was")
    audit_age: str
    failing_copies: int
    fixity: str = Field(description='"failing", "not checked" or "passing"')


# --- accounts (accounts/service.py user_json, token_json) ------------------------------------------------------


class TokenAnswer(_Open):
    """An API token as lists show it: never its text or digest."""

    id: str
    user: str
    label: str
    state: str = Field(description='"active", "revoked" or "expired"')
    created: str | None
    last_used: str | None
    expires: str | None
    revoked: str | None


class TokenList(_Open):
    tokens: list[TokenAnswer]


class IssuedToken(TokenAnswer):
    secret: str = Field(description="The token's text: in this answer only")


class UserAnswer(_Open):
    name: str
    role: str
    full_name: str | None
    disabled: bool
    created: str | None
    password_changed: str | None


class UserList(_Open):
    users: list[UserAnswer]


class UserWithTokens(UserAnswer):
    tokens: list[TokenAnswer]


class ChangedUser(UserAnswer):
    password: str | None = Field(default=None, description="A generated password, present only when one was made")


class DoctorTool(_Open):
    name: str
    found: bool
    version: str | None
    purpose: str
    how_to_install: str | None


class DoctorAnswer(_Open):
    """What `strongroom doctor --json` prints."""

    tools_dir: str
    signatures: dict[str, Any]
    tools: list[DoctorTool]


# --- jobs (views.job_json) --------------------------------------------------------------------------------------


class JobAnswer(_Open):
    id: str
    kind: str
    title: str
    owner: str
    state: str = Field(description="queued, running, succeeded, failed, cancelled or interrupted")
    finished_state: bool
    created: str
    started: str | None
    finished: str | None
    step: str
    done: int
    total: int | None
    chunks_total: int | None = Field(
        description="A staged job's chunk count once planned; null before, or for a single-step job"
    )
    chunks_done: int = Field(description="How many of its chunks have finished")
    result: dict[str, Any] | None = Field(description="The same shape the CLI prints with --json")
    error: str | None
    hint: list[str]
    cancel_requested: bool
    params: dict[str, Any]


class JobList(_Open):
    jobs: list[JobAnswer]


# --- search (views.search_json) ---------------------------------------------------------------------------------


class SearchHitAnswer(_Open):
    package: str
    name: str
    version: int
    path: str | None
    title: str | None
    access: str
    opening_date: str | None
    masked: bool = Field(description="A stand-in for a restricted record: its redacted title, no content")
    score: float
    snippet: str | None = Field(description="Matched words between « and »")


class SearchAnswer(_Open):
    """What `strongroom search --json` prints."""

    total: int
    hits: list[SearchHitAnswer]
    facets: dict[str, dict[str, int]]
    next_after: str | None = Field(description="The cursor for the next page; null on the last")


# --- packages (views.details_json, restricted_view_json; routes_packages.file_json) -----------------------------


class PackageShown(_Open):
    """A package the caller may see: `strongroom show --json` (a researcher's adds `withheld` and `restricted`)."""

    package: str
    name: str
    title: str | None
    created: str
    version: int
    files: list[dict[str, Any]]
    file_count: int
    description: dict[str, dict[str, list[str]]]
    versions: list[dict[str, Any]]
    access: list[dict[str, Any]]
    events: list[dict[str, Any]]


class RestrictedStandIn(_Open):
    """A restricted package as a researcher may know of it: its stand-in, no content."""

    uuid: str
    status: str
    masked: bool
    title: str | None
    identifier: list[str]
    dates: list[str]
    exemption: str | None
    opening_date: str | None


class FileShown(_Open):
    package: str
    package_name: str
    version: int
    current: bool
    download: str | None = Field(description="The download's address; null when the caller may not download it")
    access_copy: dict[str, Any] | None


# --- ingest (uploads.upload_json, transfers.transfer_json) ------------------------------------------------------


class UploadAnswer(_Open):
    id: str
    filename: str
    size: int
    received: int = Field(description="Bytes received so far: send the next chunk from here")
    chunk_size: int
    sha256: str | None
    created: str


class TransferAnswer(_Open):
    """A transfer on its way in (the server path is never shown)."""

    id: str
    state: str
    state_words: str
    owner: str
    origin: str = Field(description='"upload" or "source"')
    filename: str
    name: str
    size: int | None
    created: str
    check_job: str | None
    ingest_job: str | None
    report: dict[str, Any] | None = Field(description="The check's findings, once checked")
    error: str | None
    hint: list[str]
    package: str | None
    history: list[str]


class TransferList(_Open):
    transfers: list[TransferAnswer]


class SourceList(_Open):
    sources: list[str]


class SourceEntryAnswer(_Open):
    name: str
    kind: str
    size: int | None
    modified: str


class SourceEntries(_Open):
    source: str
    entries: list[SourceEntryAnswer]


# --- preservation (reports/dashboard.py Dashboard.to_json, routes_preservation) ---------------------------------


class DashboardAnswer(_Open):
    """Every series behind the preservation charts."""

    as_of: str
    registry_version: Any
    totals: dict[str, Any]
    formats: list[dict[str, Any]]
    risks: list[dict[str, Any]]
    growth: list[dict[str, Any]]
    audit: dict[str, Any]


class ProfileAnswer(_Open):
    """What `strongroom formats --json` prints."""

    by: str
    package: str | None
    registry_version: Any
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


class LocationAnswer(_Open):
    """A row of `location list --json`, with whether its storage answers now."""

    reachable: bool
    problem: str | None


class AgeCount(_Open):
    age: str
    packages: int


class AuditsAnswer(_Open):
    packages: int
    checked: int
    failing: int
    oldest_check: str | None
    ages: list[AgeCount]
    recent: list[Any]
    problems: list[Any]


class ProposalsAnswer(_Open):
    policy_version: Any
    proposals: list[dict[str, Any]]
    failures: list[dict[str, Any]]


class JobStarted(_Open):
    job: str = Field(description="The job's id: follow it at /api/v1/jobs/{job}")


# --- records (cli_retention, cli_disposal, records/holds.py views, routes_records_*) ----------------------------


class SchedulesAnswer(_Open):
    schedules: list[dict[str, Any]]


class SchedulesLoaded(_Open):
    loaded: list[dict[str, Any]]
    unchanged: Any
    source_sha256: str
    notes: list[str]


class DueAnswer(_Open):
    """What `retention due --json` prints."""

    as_of: str
    due: list[dict[str, Any]]
    waiting: list[dict[str, Any]]


class HoldAnswer(_Open):
    id: str
    type: str
    active: bool
    reason: str
    packages: list[str]
    placed: str
    released: str | None


class HoldList(_Open):
    holds: list[HoldAnswer]


class HoldPlaced(_Open):
    hold: str
    type: str
    packages: list[str]
    event: str | None
    locations: dict[str, str] = Field(description="Each storage location's outcome of marking the hold")


class HoldReleased(_Open):
    hold: str
    released: str | None
    packages: list[str]
    still_held: list[str]
    locations: dict[str, str]


class BatchAnswer(_Open):
    """What `disposal show --json` prints."""

    batch: str
    status: str
    as_of: str
    proposed: str
    proposed_by: str
    executed: str | None
    approvals: list[dict[str, Any]]
    items: list[dict[str, Any]]


class BatchList(_Open):
    batches: list[BatchAnswer]


class ProposalAnswer(_Open):
    """What `disposal propose --json` prints ("batch": null when nothing could be proposed)."""

    batch: str | None
    as_of: str
    proposed_by: str
    items: list[dict[str, Any]]
    left_out: list[dict[str, Any]]


class BatchStatusAnswer(_Open):
    batch: str
    status: str


class RetentionAnswer(_Open):
    package: str
    assignment: dict[str, Any] | None
    schedule: dict[str, Any] | None
    due: str | None
    action: str | None
    waiting: str | None
    holds: list[str]


class AssignedAnswer(_Open):
    package: str
    schedule: dict[str, Any]
    previous: dict[str, Any] | None
    event: str | None


class TriggersAnswer(_Open):
    package: str
    triggers: list[dict[str, Any]]


class TriggerAnswer(_Open):
    package: str
    name: str
    date: str
    event: str | None


class ReviewsAnswer(_Open):
    package: str
    reviews: list[dict[str, Any]]


class ReviewedAnswer(_Open):
    package: str
    decision: str
    due: str | None
    schedule: dict[str, Any]
    event: str | None


class AccessRulesAnswer(_Open):
    package: str
    rules: list[dict[str, Any]]


class AccessChangedAnswer(_Open):
    package: str
    path: str
    status: str
    opening_date: str | None
    previous: dict[str, Any] | None


class JournalVerified(_Open):
    entries: int
    head: Any
    problems: list[dict[str, Any]]


class JournalPage(_Open):
    """One page of the journal as auditors read it, with whether the chain verified."""

    verified: Any
    problems: list[dict[str, Any]]
    unreadable: Any
    entries: list[dict[str, Any]]
    page: int
    pages: int
    total: int
