"""What the records managers' pages share: reading form values, showing a refused change on its own form.

A change a person asks for on a page either succeeds (303 to the page showing its result, with a
fixed notice chosen by key: no text from the URL is ever shown) or is refused by the library; the
refusal is shown in a GOV.UK error summary above the same form, with what they typed kept, and
nothing changed. The API routes beside them answer the same refusals as `{"error", "hint"}`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from strongroom.errors import StrongroomError
from strongroom.web.pages import error_status, render
from strongroom.web.permissions import Permission, Principal, require

# The signed-in records manager a change is made by (declares the route's one permission).
RecordsManager = Annotated[Principal, require(Permission.MANAGE_RECORDS)]

# Notices shown after a change, chosen by the key in `?done=`; anything else in the URL shows nothing.
NOTICES: Mapping[str, str] = {
    "loaded": "The schedule file was loaded.",
    "unchanged": "The schedule file was read: every schedule in it was already current, so nothing changed.",
    "placed": "The hold was placed.",
    "released": "The hold was released.",
    "proposed": "The disposal batch was proposed. Two different people must now approve it.",
    "nothing-due": "Nothing is due for destruction or transfer on that day, so no batch was proposed.",
    "approved": "Your approval was recorded.",
    "withdrawn": "The disposal batch was withdrawn. Nothing was disposed of.",
    "assigned": "The retention schedule was assigned.",
    "unchanged-assignment": "The package already has that schedule version; nothing was recorded.",
    "trigger": "The trigger event was recorded.",
    "reviewed": "The review decision was recorded.",
    "access": "The access status was changed.",
}


class FormError(StrongroomError):
    """A form value that cannot be read, naming the field (its element id) so the error summary links to it."""

    def __init__(self, message: str, field_id: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, details=details)
        self.field_id = field_id


@dataclass(frozen=True)
class Problem:
    """One line of a GOV.UK error summary: its words and the field it links to ("" for none)."""

    text: str
    href: str = ""


@dataclass(frozen=True)
class Refusal:
    """A refused change as a page shows it: the summary's lines and the field errors by field id."""

    status: int
    problems: tuple[Problem, ...]
    fields: Mapping[str, str] = field(default_factory=dict)


# The records library's hints name the command line's commands; on these pages each has a button instead.
WEB_WORDS: Mapping[tuple[str, str], str] = {
    ("disposal", "approve"): "Another records manager approves it with the Approve button on the batch's page.",
    ("disposal", "execute"): "Execute it with the Execute button on the batch's page.",
    ("disposal", "show"): "See it on its page under Disposal batches.",
    ("disposal", "list"): "See the batches on the Disposal batches page.",
    ("disposal", "propose"): "Propose a new batch from the due list.",
    ("hold", "release"): "Release a hold on its page under Holds once it no longer applies.",
    ("hold", "list"): "See the active holds on the Holds page.",
    ("retention", "assign"): "Assign a schedule on the package's records page.",
    ("retention", "event"): "Record the event under Trigger events on the package's records page.",
    ("retention", "review"): "Record a review on the package's records page.",
    ("retention", "due"): "See the due list.",
    ("retention", "load"): "Load schedules on the Schedules page.",
    ("retention", "list"): "See them on the Schedules page.",
}
_COMMAND = re.compile(r"\bstrongroom ([a-z]+) ([a-z]+)")
_SENTENCE_END = re.compile(r"(?<=\.)\s+")


def web_hints(details: tuple[str, ...] | list[str]) -> list[str]:
    """The hints with each sentence that tells of a command replaced by where its button is (once each)."""
    said: list[str] = []
    for hint in details:
        sentences = []
        for sentence in _SENTENCE_END.split(hint):
            found = _COMMAND.search(sentence)
            words = WEB_WORDS.get((found.group(1), found.group(2))) if found else None
            sentences.append(words or sentence)  # a command with no button here is said as the CLI says it
        text = " ".join(s for s in sentences if s)
        if text and text not in said:
            said.append(text)
    return said


def refusal(err: StrongroomError, field_id: str) -> Refusal:
    """The library's message (linked to the field that most likely needs changing) and each of its hints."""
    target = err.field_id if isinstance(err, FormError) else field_id
    problems = (Problem(err.message, f"#{target}"), *(Problem(d) for d in web_hints(err.details)))
    return Refusal(error_status(err), problems, {target: err.message})


def refused_page(request: Request, template: str, context: Mapping[str, Any], err: StrongroomError,
                 field_id: str) -> HTMLResponse:  # fmt: skip
    """The form's page again, with the refusal above it and what was typed kept (`context["form"]`)."""
    found = refusal(err, field_id)
    return render(request, template, {**context, "refusal": found}, found.status)


def done(path: str, key: str) -> RedirectResponse:
    """After a change: see its result, with the notice `key` (one of NOTICES)."""
    assert key in NOTICES
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={key}", status_code=303)


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def today() -> date:
    return datetime.now(UTC).date()


def parse_day(text: str | None, label: str, field_id: str, *, required: bool = False) -> date | None:
    """A date typed into a form (YYYY-MM-DD, as `<input type="date">` sends it)."""
    cleaned = (text or "").strip()
    if not cleaned:
        if required:
            raise FormError(f"Enter {label}.", field_id, details=("Write it as YYYY-MM-DD, e.g. 2031-03-31.",))
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise FormError(f"{label[:1].upper()}{label[1:]} must be a real date, like 2031-03-31.", field_id,
                        details=(f"{cleaned[:40]!r} is not one.",)) from None  # fmt: skip


def optional(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    return cleaned or None


_SEPARATORS = re.compile(r"[\s,;]+")


def references(text: str | None) -> list[str]:
    """Package references typed one a line (or separated by spaces, commas or semicolons), each once."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text or ""):
        if part:
            seen[part] = None
    return list(seen)


def safe_upload_name(name: str | None, fallback: str) -> str:
    """A file name an upload may be saved under: its last component, printable, no leading dot, bounded."""
    last = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(c for c in unicodedata.normalize("NFC", last)
                      if c.isalnum() or c in "._- ").strip().lstrip(".")  # fmt: skip
    return cleaned[-120:] or fallback
