"""Destruction certificates: a CSV for spreadsheets and one printable HTML page, for a disposal batch.

Both are pure functions of the batch and its stubs (and the journal sequence of the
batch's `executing` entry), with nothing taken from the clock or the machine, so the
same certificate renders byte for byte again after `rebuild` and its sha256 (journalled
when it was issued) can be checked. Stubs hold no personal data; every text in them is
still treated as hostile: HTML-escaped, and in the CSV a cell a spreadsheet would run
as a formula is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime

from strongroom.records.cells import safe_cell
from strongroom.records.model import Approval, DestructionStub, DisposalAction, DisposalBatch, ItemOutcome

COLUMNS = (
    "package", "identifier", "title", "schedule", "schedule_version", "authority", "action", "date_from", "date_to",
    "files", "bytes", "payload_sha256", "destroyed", "transferred_to", "approved_by",
)  # fmt: skip


def certificate_csv(batch: DisposalBatch, stubs: Sequence[DestructionStub]) -> bytes:
    """One row per destroyed or transferred package, in package order (UTF-8, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for stub in sorted(stubs, key=lambda s: s.package):
        writer.writerow([safe_cell(v) for v in _row(stub)])
    return out.getvalue().encode("utf-8")


def _row(stub: DestructionStub) -> list[str]:
    return [
        stub.package, stub.identifier or "", stub.title, stub.code, str(stub.version), stub.authority,
        stub.action.value, _day(stub.date_from), _day(stub.date_to), str(stub.files), str(stub.bytes),
        stub.payload_sha256, _moment(stub.destroyed), stub.transferred_to or "", "; ".join(stub.approved_by),
    ]  # fmt: skip


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _moment(value: datetime | None) -> str:
    """UTC to the second: the same text whichever database kept the time (and however precisely)."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _approvals(batch: DisposalBatch) -> list[Approval]:
    return sorted(batch.approvals, key=lambda a: (_moment(a.approved), a.key, a.operator))


_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;margin:2em auto;max-width:60em;line-height:1.4;padding:0 1em}
h1{font-size:2em;margin:0 0 .3em}h2{font-size:1.4em;margin:1.5em 0 .5em;border-bottom:2px solid #0b0c0c}
.caption{color:#505a5f;font-size:1.1em;margin:0}
table{border-collapse:collapse;width:100%;margin:.5em 0 1em;font-size:.9em}
th,td{text-align:left;vertical-align:top;border-bottom:1px solid #b1b4b6;padding:.4em .5em .4em 0}
th{font-weight:bold}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:"Courier New",monospace;font-size:.85em;word-break:break-all}
dl{display:grid;grid-template-columns:14em 1fr;gap:.3em 1em}dt{font-weight:bold}dd{margin:0}
.sign{display:grid;grid-template-columns:1fr 1fr;gap:2em;margin-top:1em}
.line{border-bottom:1px solid #0b0c0c;height:2.5em;margin-bottom:.3em}
.note{border-left:5px solid #1d70b8;padding:.5em 1em;background:#f3f2f1}
@media print{body{margin:0;max-width:none;font-size:10pt}a{color:inherit;text-decoration:none}
h2{break-after:avoid}tr,.sign>div{break-inside:avoid}.note{background:none}}
"""


def certificate_html(
    batch: DisposalBatch, stubs: Sequence[DestructionStub], journal_sequence: int, *, organisation: str = ""
) -> bytes:
    """One self-contained page (inline CSS, print styles, no scripts or links) certifying the batch."""
    e = html.escape
    stubs = sorted(stubs, key=lambda s: s.package)
    approvals = _approvals(batch)
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Certificate of destruction: disposal batch {e(batch.id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f'<p class="caption">{e(organisation)}</p>' if organisation else "",
        "<h1>Certificate of destruction</h1>",
        "<dl>",
        f"<dt>Disposal batch</dt><dd><code>{e(batch.id)}</code></dd>",
        f"<dt>Records due on</dt><dd>{e(batch.as_of.isoformat())}</dd>",
        f"<dt>Proposed</dt><dd>{e(_moment(batch.proposed))} by {e(batch.proposed_by)}</dd>",
        f"<dt>Executed</dt><dd>{e(_moment(batch.executed)) or 'not yet'}</dd>",
        f"<dt>Journal entry</dt><dd>execution recorded at journal sequence {journal_sequence}</dd>",
        f"<dt>Packages</dt><dd>{_counts(batch, stubs)}</dd>",
        "</dl>",
        '<p class="note">Each package below was removed from every storage location (every version) and from '
        "the search index under the retention schedule shown. What is kept of it is listed here; no personal "
        "data, file names or content. The journal entries of this batch are hash-chained and can be checked "
        "with <code>strongroom journal verify</code>.</p>",
        "<h2>Records disposed of</h2>",
    ]
    if stubs:
        parts.append(
            "<table><thead><tr><th>Reference</th><th>Title</th><th>Dates</th><th>Schedule</th><th>Authority</th>"
            '<th>Action</th><th class="num">Files</th><th class="num">Bytes</th></tr></thead><tbody>'
        )
        for s in stubs:
            dates = " to ".join(x for x in (_day(s.date_from), _day(s.date_to)) if x) or "undated"
            action = s.action.value + (f" to {e(s.transferred_to)}" if s.transferred_to else "")
            parts.append(
                f"<tr><td>{e(s.identifier or '')}<br><code>{e(s.package)}</code></td><td>{e(s.title)}</td>"
                f"<td>{e(dates)}</td><td>{e(s.code)} (version {s.version})</td><td>{e(s.authority)}</td>"
                f'<td>{action}</td><td class="num">{s.files}</td><td class="num">{s.bytes}</td></tr>'
            )
        parts.append("</tbody></table>")
        parts.append("<h2>Payload digests</h2><table><thead><tr><th>Package</th><th>SHA-256 of the payload</th>"
                     "<th>Removed</th></tr></thead><tbody>")  # fmt: skip
        parts.extend(f"<tr><td><code>{e(s.package)}</code></td><td><code>{e(s.payload_sha256)}</code></td>"
                     f"<td>{e(_moment(s.destroyed))}</td></tr>" for s in stubs)  # fmt: skip
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None.</p>")
    skipped = [i for i in sorted(batch.items, key=lambda i: i.package) if i.outcome is ItemOutcome.SKIPPED]
    if skipped:
        parts.append("<h2>Not disposed of</h2><table><thead><tr><th>Package</th><th>Why</th></tr></thead><tbody>")
        parts.extend(f"<tr><td><code>{e(i.package)}</code></td><td>{e(i.why or '')}</td></tr>" for i in skipped)
        parts.append("</tbody></table>")
    parts.append('<h2>Approved by</h2><div class="sign">')
    for a in approvals:
        parts.append(
            f'<div><div class="line"></div>{e(a.name)}<br>approved {e(_moment(a.approved))}'
            f"<br>(recorded by account {e(a.operator)})</div>"
        )
    parts.append("</div></body></html>\n")
    return "\n".join(p for p in parts if p).encode("utf-8")


def _counts(batch: DisposalBatch, stubs: Sequence[DestructionStub]) -> str:
    transferred = sum(1 for s in stubs if s.action is DisposalAction.TRANSFER)
    destroyed = len(stubs) - transferred
    skipped = sum(1 for i in batch.items if i.outcome is ItemOutcome.SKIPPED)
    return f"{destroyed} destroyed, {transferred} transferred, {skipped} not disposed of"
