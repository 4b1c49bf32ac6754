"""Extract the text of stored records after ingest (`strongroom text`, job "extract-text"): plan -> chunks of
files -> finalize (one new version per package, then indexed).

For packages ingested with `[ingest] extract_text = false`, or before pdftotext or Tika was installed:
every original whose format has text (fulltext/extract.py's policy) and that has no text derivative yet.
plan: those originals, read from the catalog, in chunks of `[jobs] chunk_files` files or `chunk_bytes`.
chunk: each original fetched from storage (its digest checked) and read by the same extractors under the
same limits as ingest; the text and what happened are kept in the job's scratch folder under the file's
UUID, written atomically, so a chunk delivered twice reads nothing twice.
finalize: per package with text kept, ONE new version (the honest way: texts are files of the package,
`data/text/<original>.txt`, with a creation event on each original and a digest event on each text,
exactly as ingest keeps them), committed through the shared commit path, which indexes the package so
full-text search finds its words. The version's message names the job, so a finalize run again skips a
package whose version it made. An extraction that ran and kept nothing (empty, failed) is recorded as
an event all the same (in the version, or in the journal when the package gets none); a tool that is
not installed is reported, not recorded: nothing was tried.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.commit import object_id
from strongroom.errors import IntegrityError, StrongroomError
from strongroom.fulltext.derivatives import finding_detail, runs_as_agent, text_identification
from strongroom.fulltext.extract import Extractor, TextExtractor, TextResult, TextSettings, TextStatus
from strongroom.fulltext.paths import source_path, text_path, text_uuid
from strongroom.ingest.provenance import TEXT_EVENT, tool_agent
from strongroom.ingest.staging import staging_area
from strongroom.jobs.model import JobKind, StepContext
from strongroom.jobs.scratch import cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.metadata.mets import read_mets
from strongroom.model import Agent, Event, FileRecord, FileRole, Outcome
from strongroom.preservation.actions import Purpose, derivation_event_uuid
from strongroom.preservation.migrate_version import job_marker
from strongroom.storage.journal import JournalRecord
from strongroom.update import VersionContent, assemble_version, with_access

if TYPE_CHECKING:
    from strongroom.archive import Archive

EXTRACT_TEXT = "extract-text"
PLAN_FILE = "plan.json"
_NAMESPACE = uuid.UUID("3c0f5d3e-9a51-4c2e-8b7d-2f6a9e1c4b80")
_DIGEST_EVENT = "message digest calculation"
_OUTCOME = {TextStatus.EXTRACTED: Outcome.SUCCESS, TextStatus.EMPTY: Outcome.SUCCESS, TextStatus.CUT: Outcome.WARNING,
            TextStatus.FAILED: Outcome.FAILURE}  # fmt: skip


def text_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The options, checked: packages (names or UUIDs) and/or all_missing."""
    value = params.get("packages") or []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise StrongroomError("packages must be a list of text.", details=["Send packages as a list of strings."])
    packages = [i.strip() for i in items if i.strip()]
    all_missing = params.get("all_missing") in (True, "true", "on", "yes", "1")
    if not packages and not all_missing:
        raise StrongroomError("Say which packages to extract the text of.",
                              details=["Name packages: strongroom text PACKAGE...",
                                       "or take every package with records lacking text: strongroom text "
                                       "--all-missing"])  # fmt: skip
    return {"packages": packages, "all_missing": all_missing}


def _settings(archive: Archive) -> TextSettings:
    s = archive.settings
    return TextSettings(enabled=True, time_limit=s.text_time_limit, size_limit=s.text_size_limit)


# --- plan --------------------------------------------------------------------------------------------


def plan_text(ctx: StepContext, params: Mapping[str, Any]) -> int:
    from strongroom.archive import Archive

    options = text_params(params)
    limits = load_job_settings(ctx.home)
    ctx.progress("Finding records without text", 0, None)
    with Archive.open(ctx.home) as archive:
        archive.prepare_to_write()
        summaries = [archive.package(r) for r in options["packages"]] or list(archive.catalog.packages())
        summaries = list({s.uuid: s for s in summaries}.values())
        packages: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        with TextExtractor(_settings(archive)) as extractor:  # choosing starts no tool
            for summary in summaries:
                records = list(archive.catalog.files(summary.uuid))
                has_text = {source_path(f.path) for f in records if f.role is FileRole.TEXT}
                wanted = []
                for record in records:
                    if record.role is not FileRole.ORIGINAL or record.path in has_text:
                        continue
                    ident = record.identification
                    chosen = extractor.choose(ident.puid if ident else None, ident.mime if ident else None,
                                              record.original_name or Path(record.path).name)  # fmt: skip
                    if chosen is not None:
                        wanted.append({"package": summary.uuid, "uuid": record.uuid, "path": record.path,
                                       "sha256": record.sha256, "size": record.size,
                                       "extractor": chosen.value})  # fmt: skip
                if wanted:
                    packages.append({"package": summary.uuid, "name": summary.name, "version": summary.version})
                    files.extend(wanted)
    cut = cut_chunks([(1, item["size"]) for item in files], limits.chunk_files, limits.chunk_bytes)
    chunks = [[files[i] for i in chunk] for chunk in cut]
    write_json(ctx.scratch / PLAN_FILE, {"started": time.time(), "packages": packages, "chunks": chunks})
    return len(chunks)


# --- chunk -------------------------------------------------------------------------------------------


def _texts(scratch: Path) -> Path:
    return scratch / "text"


def chunk_text(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    from strongroom.archive import Archive

    items: list[dict[str, Any]] = read_json(ctx.scratch / PLAN_FILE)["chunks"][n]
    out = _texts(ctx.scratch)
    out.mkdir(exist_ok=True)
    todo = [i for i in items if not (out / f"{i['uuid']}.json").exists()]  # done by an earlier delivery
    if not todo:
        return
    work = ctx.scratch / f"work-{n:06d}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        with Archive.open(ctx.home) as archive:
            versions = {p["package"]: p["version"] for p in read_json(ctx.scratch / PLAN_FILE)["packages"]}
            settings = _settings(archive)
            with TextExtractor(settings) as extractor:

                def fetched(item: dict[str, Any]) -> tuple[Path, Extractor]:
                    return _fetch(archive, item, versions[item["package"]], work), Extractor(item["extractor"])

                results = extractor.extract_many(todo, fetched, archive.settings.worker_count)
                for done, (item, result) in enumerate(results, start=1):
                    _keep(out, item, result, settings.size_limit)
                    ctx.progress("Extracting text", done, len(todo))
                    ctx.check_cancelled()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch(archive: Archive, item: Mapping[str, Any], version: int, work: Path) -> Path:
    """The original out of storage, its digest checked on the way (named by its UUID, its suffix kept)."""
    suffix = Path(item["path"]).suffix.lower()
    dest: Path = work / (str(item["uuid"]) + (suffix if suffix.isascii() and len(suffix) <= 11 else ""))
    digest = hashlib.sha256()
    with archive.ocfl.open(object_id(item["package"]), f"data/{item['path']}", version) as stream, \
            dest.open("wb") as sink:  # fmt: skip
        while block := stream.read(1024 * 1024):
            digest.update(block)
            sink.write(block)
    if digest.hexdigest() != item["sha256"]:
        raise IntegrityError(
            f"{item['path']} of package {item['package']} does not match its recorded digest in storage.",
            details=[
                f"Run: strongroom verify {item['package']}",
                f"and repair it: strongroom repair {item['package']}",
            ],
        )
    return dest


def _keep(out: Path, item: Mapping[str, Any], result: TextResult, size_limit: int) -> None:
    kept_as = text_path(item["path"]) if result.kept else None
    sha = None
    if kept_as is not None:
        data = result.text.encode("utf-8", "replace")  # "replace": a lone surrogate cannot be UTF-8
        sha = hashlib.sha256(data).hexdigest()
        partial = out / f".{item['uuid']}.txt.partial"
        partial.write_bytes(data)
        partial.replace(out / f"{item['uuid']}.txt")
    write_json(out / f"{item['uuid']}.json", {
        "status": result.status.value, "tool": result.tool, "version": result.version, "kept_as": kept_as,
        "sha256": sha, "detail": finding_detail(result, kept_as, size_limit), "reason": result.reason,
        "when": datetime.now(UTC).isoformat(),
    })  # fmt: skip


# --- finalize ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    item: Mapping[str, Any]
    finding: Mapping[str, Any]

    @property
    def status(self) -> TextStatus:
        return TextStatus(self.finding["status"])


def finalize_text(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    from strongroom.archive import Archive

    report_file = ctx.scratch / "report.json"
    if report_file.exists():  # a finalize run again after its end (its worker died before saying so)
        return dict(read_json(report_file))
    plan = read_json(ctx.scratch / PLAN_FILE)
    by_package: dict[str, list[_Found]] = {}
    for chunk in plan["chunks"]:
        for item in chunk:
            finding = read_json(_texts(ctx.scratch) / f"{item['uuid']}.json")
            by_package.setdefault(item["package"], []).append(_Found(item, finding))
    done_dir = ctx.scratch / "packages"
    done_dir.mkdir(exist_ok=True)
    results: list[dict[str, Any]] = []
    with Archive.open(ctx.home) as archive:
        archive.prepare_to_write()
        for count, entry in enumerate(plan["packages"]):
            ctx.progress("Storing the texts", count, len(plan["packages"]))
            results.append(_package(archive, ctx, entry, by_package.get(entry["package"], []), done_dir,
                                    str(params.get("operator") or ctx.job.owner)))  # fmt: skip
    report = text_report(results, time.time() - plan["started"])
    write_json(report_file, report)
    return report


def text_report(packages: Sequence[Mapping[str, Any]], seconds: float) -> dict[str, Any]:
    """What `strongroom text --json` prints."""
    total = {key: sum(p[key] if isinstance(p[key], int) else len(p[key]) for p in packages)
             for key in ("files", "extracted", "cut", "empty", "failed", "not_extracted")}  # fmt: skip
    errors = sum(1 for p in packages if p["error"])
    return {
        "ok": not errors and not total["failed"],
        "totals": {"packages": len(packages), "versions_made": sum(1 for p in packages if p["version"] is not None),
                   **total, "errors": errors, "seconds": round(seconds, 3)},
        "packages": list(packages),
    }  # fmt: skip


def _package(archive: Archive, ctx: StepContext, entry: Mapping[str, Any], found: Sequence[_Found], done_dir: Path,
             operator: str) -> dict[str, Any]:  # fmt: skip
    package, job = entry["package"], ctx.job.id
    done, intent = done_dir / f"{package}.json", done_dir / f"{package}.intent.json"
    if done.exists():
        return dict(read_json(done))
    if intent.exists():
        said = read_json(intent)
        versions = archive.catalog.versions(package)
        if any(v.number == said["version"] and v.message.endswith(job_marker(job)) for v in versions):
            write_json(done, said)  # stored just before this step was cut off: not again
            return dict(said)
        intent.unlink()
    result: dict[str, Any] = {
        "package": package, "name": entry["name"], "version": None, "files": len(found),
        "extracted": sum(1 for f in found if f.status in (TextStatus.EXTRACTED, TextStatus.CUT)),
        "cut": [f.item["path"] for f in found if f.status is TextStatus.CUT],
        "empty": sum(1 for f in found if f.status is TextStatus.EMPTY),
        "failed": [f"{f.item['path']}: {f.finding['reason']}" for f in found if f.status is TextStatus.FAILED],
        "not_extracted": [f"{f.item['path']}: {f.finding['reason']}" for f in found
                          if f.status is TextStatus.NOT_EXTRACTED],
        "error": None, "warnings": [],
    }  # fmt: skip
    summary = archive.catalog.find_package(package)
    if summary is None:
        result["error"] = "it is no longer in the archive (destroyed or transferred since the plan)"
    elif summary.version != entry["version"]:
        result["error"] = (f"it changed since the plan (version {entry['version']} became {summary.version}); "
                           "nothing was stored for it. Run: strongroom text again")  # fmt: skip
    else:
        try:
            _store(archive, ctx, summary.version, found, result, intent, operator)
        except StrongroomError as err:
            result["error"] = err.message + "".join(f" {d}" for d in err.details)
    write_json(done, result)
    return result


def _events(archive: Archive, ctx: StepContext, found: Sequence[_Found], version: int, operator: str,
            ) -> tuple[list[Event], list[Agent], dict[str, tuple[FileRecord, Path]]]:  # fmt: skip
    """Each tried original's creation event, each kept text's record and digest event, and the agents named."""
    system = archive.system_agents(operator)
    agents: list[Agent] = list(system)
    events: list[Event] = []
    texts: dict[str, tuple[FileRecord, Path]] = {}
    for f in found:
        if f.status is TextStatus.NOT_EXTRACTED:
            continue  # the tool is not installed: nothing was tried, nothing to record
        finding, item = f.finding, f.item
        when = datetime.fromisoformat(finding["when"])
        keys: list[str] = []
        if runs_as_agent(finding["tool"]):
            tool = tool_agent(finding["tool"], finding["version"] or "unknown")
            agents.append(tool)
            keys.append(tool.key)
        keys.append(system[0].key)
        detail = f'program="{finding["tool"]}"' + (f'; version="{finding["version"]}"' if finding["version"] else "")
        if finding["kept_as"] is not None:
            # The event that made the text: the one METS derivation links find by the text's digest.
            made = derivation_event_uuid(item["uuid"], Purpose.TEXT, finding["sha256"])
        else:
            made = str(uuid.uuid5(_NAMESPACE, f"{item['uuid']}/{item['sha256']}/{finding['status']}/"
                                              f"{finding['tool']}/{finding['version']}"))  # fmt: skip
        events.append(Event(made, TEXT_EVENT, when, detail, _OUTCOME[f.status], finding["detail"], tuple(keys),
                            item["uuid"], version))  # fmt: skip
        if finding["kept_as"] is not None:
            local = _texts(ctx.scratch) / f"{item['uuid']}.txt"
            record = FileRecord(
                uuid=text_uuid(item["uuid"]), path=finding["kept_as"], original_name=Path(finding["kept_as"]).name,
                size=local.stat().st_size, sha256=finding["sha256"], role=FileRole.TEXT,
                identification=text_identification(), modified=when,
            )  # fmt: skip
            texts[record.path] = (record, local)
            events.append(Event(
                str(uuid.uuid5(_NAMESPACE, f"{record.uuid}/{record.sha256}/digest")), _DIGEST_EVENT, when,
                'program="python hashlib"; algorithm=SHA-256', Outcome.SUCCESS, record.sha256, (system[0].key,),
                record.uuid, version,
            ))  # fmt: skip
    return events, agents, texts


def _store(archive: Archive, ctx: StepContext, base: int, found: Sequence[_Found], result: dict[str, Any],
           intent: Path, operator: str) -> None:  # fmt: skip
    package = result["package"]
    catalog = archive.catalog
    events, agents, texts = _events(archive, ctx, found, base + 1, operator)
    known = {e.uuid for e in catalog.events(package)}
    fresh = [e for e in events if e.uuid not in known]
    if not texts:
        if fresh:  # extractions that ran and kept nothing: their events go to the journal (rebuild keeps them)
            by_key = {a.key: a for a in agents}
            with catalog.lock(f"package:{package}"):
                archive.journal.append([JournalRecord(package, e, tuple(by_key[k] for k in e.agents if k in by_key))
                                        for e in fresh])  # fmt: skip
                catalog.record_events(package, fresh, by_key.values())
        return
    summary = archive.package(package)
    oid = object_id(package)
    with staging_area(archive.settings.staging_dir, f"{package}.text-{uuid.uuid4().hex[:12]}") as staging:
        mets_name = f"METS.{package}.xml"
        previous = staging.folder / "previous-METS.xml"
        with archive.ocfl.open(oid, f"data/{mets_name}", base) as source, previous.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1024 * 1024)
        document = read_mets(previous)
        bag = staging.folder / "bag"
        sources: dict[str, Path] = {}
        for path, (_record, local) in texts.items():
            placed = bag / "data" / path
            placed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, placed)
            sources[f"data/{path}"] = placed
        files = [f for f in document.files if f.path not in texts and f.path != mets_name]
        all_files = sorted([*files, *(r for r, _l in texts.values())], key=lambda f: f.path)
        message = f"Text extracted for full-text search: {len(texts)} file(s)" + job_marker(ctx.job.id)
        build = assemble_version(
            VersionContent(
                summary=summary, number=base + 1, previous=document, files=all_files,
                events=[*catalog.events(package), *fresh], agent_groups=[document.agents, catalog.agents(), agents],
                descriptions=with_access(document.descriptions, catalog.access_rules(package)),
                organisation_name=archive.settings.organisation_name, new_sources=sources, added_events=fresh,
                message=message, operator=operator, when=datetime.now(UTC),
            ),
            bag,
        )  # fmt: skip
        write_json(intent, {**result, "version": base + 1})
        committed = archive.commit(build)
    result["version"] = committed.version.number
    if committed.index_error:
        result["warnings"].append(committed.index_error)
    result["warnings"].extend(committed.copy_warnings)


def extract_text(home: Path, packages: Sequence[str], *, all_missing: bool, operator: str,
                 progress: Callable[[str, int, int | None], None] | None = None) -> Mapping[str, Any]:  # fmt: skip
    """Run the whole extract-text job in this process (`strongroom text` without --submit); returns its report."""
    from strongroom.jobs.inline import run_inline_in_scratch
    from strongroom.jobs.model import JobRecord, JobState

    params = {"packages": list(packages), "all_missing": all_missing, "operator": operator}
    text_params(params)  # refused before a scratch folder is made
    job = JobRecord(id=str(uuid.uuid4()), kind=EXTRACT_TEXT, title="Extract text", owner=operator, params=params,
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    return run_inline_in_scratch(text_kind(""), job, home, load_job_settings(home).scratch_root, progress)


def text_kind(permission: str) -> JobKind:
    return JobKind(EXTRACT_TEXT, "Extract the text of stored records", None, permission, plan=plan_text,
                   chunk=chunk_text, finalize=finalize_text, resumable=True)  # fmt: skip


__all__ = ["EXTRACT_TEXT", "extract_text", "text_kind", "text_params", "text_report"]
