"""Migrate at-risk formats: plan, convert with the policy's tools, verify, and commit one version per package.

For each package (all, or those named), each original of its head version is matched against the
migration policy (strongroom/preservation/policy.py); every conversion that applies is run in the
package's staging area (bounded concurrency: at most the policy's number of tool runs at once),
verified (strongroom/preservation/significant.py) and, when every check passes, kept. A package
with at least one kept derivative gets ONE new version through the shared commit path
(Archive.commit: atomic, catalogued, indexed); failures are events in that version, or in the
journal when nothing of the package was kept, so a rebuild keeps them either way.

Killed at any point, a run leaves no half version (the commit is atomic; the staging folder is
cleared by the next write command), and running it again does the work that is not in storage
yet: derivatives already in the head version are skipped, derivatives' UUIDs and events are
fixed by what they record.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.commit import object_id
from strongroom.errors import IntegrityError, StrongroomError
from strongroom.formats import make_identifier
from strongroom.ingest.staging import staging_area
from strongroom.model import Agent, Event, FileRecord, Identification, PackageSummary
from strongroom.preservation.actions import NORMALIZATION_EVENT, Purpose
from strongroom.preservation.convert import convert
from strongroom.preservation.migrate_plan import MigrationRequest, PackagePlan, Task, default_purposes, plan_package
from strongroom.preservation.migrate_report import (
    FailedConversion,
    MigrationReport,
    PackageMigration,
    SkippedConversion,
)
from strongroom.preservation.migrate_version import Attempt, RecordContext, build_migration_version, failure_event
from strongroom.preservation.policy import MigrationPolicy, load_policy
from strongroom.preservation.significant import verify
from strongroom.preservation.toolrun import MissingToolError, ToolRunner
from strongroom.storage.journal import JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.ingest.pipeline import IngestReport

StepProgress = Callable[[str, int, int | None], None]
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")


def migrate_packages(
    archive: Archive,
    refs: Sequence[str],
    request: MigrationRequest,
    *,
    dry_run: bool = False,
    progress: StepProgress | None = None,
) -> MigrationReport:
    """Plan (and unless `dry_run`, run) the migrations of the named packages (all when `refs` is empty)."""
    started = time.monotonic()
    run = plan_migration(archive, refs, request)
    plans = run.plans
    planned = tuple(item for plan in plans for item in plan.planned)
    if dry_run:
        packages = tuple(PackageMigration(p.summary.uuid, p.summary.name, None, (), (), p.skipped, 0.0, 0.0)
                         for p in plans)  # fmt: skip
        return MigrationReport(packages, planned, True, run.policy.version, time.monotonic() - started)
    engine = _Engine(archive, run.policy, run.runner, request, progress, sum(len(p.tasks) for p in plans))
    done = tuple(engine.run(plan) for plan in plans)
    return MigrationReport(done, planned, False, run.policy.version, time.monotonic() - started)


@dataclass(frozen=True)
class MigrationRun:
    """A run's policy, its tool runner, and the plan of every package with something planned or skipped."""

    policy: MigrationPolicy
    runner: ToolRunner
    plans: tuple[PackagePlan, ...]


def plan_migration(archive: Archive, refs: Sequence[str], request: MigrationRequest) -> MigrationRun:
    """The plans of the named packages (all when `refs` is empty), read from the catalog; nothing is run."""
    policy = load_policy(archive.settings.home)
    runner = ToolRunner(policy.tools, concurrency=policy.settings.concurrency)
    purposes = request.purposes or default_purposes(policy)
    risks = archive.format_risks()
    summaries = _unique([archive.package(r) for r in refs] if refs else archive.catalog.packages())
    plans = [
        plan_package(s, archive.catalog.files(s.uuid), archive.catalog.events(s.uuid), policy, runner, risks,
                     request, purposes)
        for s in summaries
    ]  # fmt: skip
    return MigrationRun(policy, runner, tuple(p for p in plans if p.planned or p.skipped))


BeforeCommit = Callable[[PackageMigration], None]


def migrate_package(
    archive: Archive,
    run: MigrationRun,
    plan: PackagePlan,
    request: MigrationRequest,
    *,
    job: str | None = None,
    before_commit: BeforeCommit | None = None,
    progress: StepProgress | None = None,
) -> PackageMigration:
    """Convert, verify and commit one package's plan (a staged job's chunk does this per package).

    `job` is named in the new version's message, so a step run again can tell the version it made already;
    `before_commit` is told the package's result (the version it is about to store) just before the commit.
    """
    engine = _Engine(archive, run.policy, run.runner, request, progress, len(plan.tasks), job=job,
                     before_commit=before_commit, missing_fails=job is not None)  # fmt: skip
    return engine.run(plan)


def _unique(summaries: Sequence[PackageSummary]) -> list[PackageSummary]:
    return list({s.uuid: s for s in summaries}.values())


@dataclass
class _Counter:
    done: int = 0


class _Engine:
    """One run's shared parts: the policy, one tool runner, one identifier, the progress count."""

    def __init__(
        self,
        archive: Archive,
        policy: MigrationPolicy,
        runner: ToolRunner,
        request: MigrationRequest,
        progress: StepProgress | None,
        total: int,
        *,
        job: str | None = None,
        before_commit: BeforeCommit | None = None,
        missing_fails: bool = False,
    ) -> None:
        self.archive = archive
        self.job = job
        self.before_commit = before_commit
        self.missing_fails = missing_fails
        self.policy = policy
        self.runner = runner
        self.request = request
        self.progress = progress
        self.total = total
        self.counter = _Counter()
        self.lock = threading.Lock()
        self.concurrency = runner.concurrency
        settings = archive.settings
        identifier = make_identifier(settings.identifier_spec)

        def identify(path: Path) -> Identification:
            with self.lock:  # one identifier shared by the conversion threads
                return identifier.identify(path)

        self.identify = identify

    def run(self, plan: PackagePlan) -> PackageMigration:
        """Convert, verify and record one package's planned conversions."""
        started = time.monotonic()
        summary = plan.summary
        if not plan.tasks:
            return PackageMigration(summary.uuid, summary.name, None, (), (), plan.skipped, 0.0, 0.0)
        tool_seconds = 0.0
        try:
            name = f"{summary.uuid}.{uuid.uuid4().hex[:12]}"
            with staging_area(self.archive.settings.staging_dir, name) as staging:
                attempts, vanished = self._convert(plan, staging.folder)
                tool_seconds = sum(a.conversion.run.seconds for a in attempts)
                skipped = (*plan.skipped, *vanished)
                current = self.archive.package(summary.uuid)
                if current.version != summary.version:
                    # Another migrate or update stored a version meanwhile: what this run made may be there already.
                    raise StrongroomError(
                        f"Package {summary.name} changed while it was being migrated (version {summary.version} "
                        f"became {current.version}); nothing was stored for it.",
                        details=["Run: strongroom migrate again; what is stored by then is skipped."],
                    )
                ctx = RecordContext(
                    package=current, operator=self.request.operator,
                    agents=self.archive.system_agents(self.request.operator),
                    organisation_name=self.archive.settings.organisation_name, policy_version=self.policy.version,
                    event_type=self.request.event_type, job=self.job,
                )  # fmt: skip
                if not any(a.conversion.ok for a in attempts):
                    failed = self._journal_failures(attempts, ctx)
                    return PackageMigration(summary.uuid, summary.name, None, (), failed, skipped,
                                            time.monotonic() - started, tool_seconds)  # fmt: skip
                catalog = self.archive.catalog
                built = build_migration_version(
                    self.archive.ocfl, catalog.events(current.uuid), catalog.agents(),
                    catalog.access_rules(current.uuid), attempts, ctx, staging.folder, self.identify,
                )  # fmt: skip
                if self.before_commit is not None:
                    self.before_commit(PackageMigration(
                        summary.uuid, summary.name, built.build.base_version + 1, built.kept, built.failed, skipped,
                        time.monotonic() - started, tool_seconds,
                    ))  # fmt: skip
                result = self.archive.commit(built.build, self.progress)
        except StrongroomError as err:
            return PackageMigration(
                summary.uuid, summary.name, None, (), (), plan.skipped, time.monotonic() - started, tool_seconds,
                error=err.message + "".join(f" {d}" for d in err.details),
            )  # fmt: skip
        except OSError as err:  # the staging disk full, a file too large for it: this package only, said plainly
            where = f" ({err.filename})" if err.filename else ""
            return PackageMigration(
                summary.uuid, summary.name, None, (), (), plan.skipped, time.monotonic() - started, tool_seconds,
                error=f"the staging area could not be written{where}: {err.strerror or err}; nothing was stored for "
                f"this package. Free space in {self.archive.settings.staging_dir} (or the temporary folder) and run "
                "strongroom migrate again.",
            )  # fmt: skip
        warnings = (*((result.index_error,) if result.index_error else ()), *result.copy_warnings)
        return PackageMigration(
            summary.uuid, summary.name, result.version.number, built.kept, built.failed, skipped,
            time.monotonic() - started, tool_seconds, warnings=warnings,
        )  # fmt: skip

    def _convert(self, plan: PackagePlan, folder: Path) -> tuple[list[Attempt], list[SkippedConversion]]:
        """Every planned conversion of the package, each original fetched once, originals side by side."""
        groups: dict[str, list[Task]] = {}
        for task in plan.tasks:
            groups.setdefault(task.original.uuid, []).append(task)
        attempts: list[Attempt] = []
        vanished: list[SkippedConversion] = []
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="migrate") as pool:
            futures = [
                pool.submit(self._convert_original, plan.summary, tasks, folder / "work" / f"{index:06d}")
                for index, tasks in enumerate(groups.values())
            ]
            for future in as_completed(futures):
                made, missing = future.result()
                attempts.extend(made)
                vanished.extend(missing)
        attempts.sort(key=lambda a: (a.task.original.path, list(Purpose).index(a.task.purpose)))
        return attempts, vanished

    def _convert_original(
        self, summary: PackageSummary, tasks: Sequence[Task], base: Path
    ) -> tuple[list[Attempt], list[SkippedConversion]]:
        original = tasks[0].original
        base.mkdir(parents=True)
        suffix = Path(original.path).suffix.lower()
        source = base / ("original" + (suffix if _SUFFIX.match(suffix) else ""))
        self._fetch(summary, original, source)
        puid = original.identification.puid if original.identification else None
        attempts: list[Attempt] = []
        missing: list[SkippedConversion] = []
        for task in tasks:
            workdir = base / task.purpose.value
            workdir.mkdir()
            try:
                conversion = convert(task.rule, source, workdir, self.runner)
                if conversion.run.ok and conversion.output is not None:
                    checks = base / f"{task.purpose.value}-checks"
                    checks.mkdir()
                    conversion = verify(conversion, puid, self.runner, self.identify, checks)
            except MissingToolError as err:  # removed since the plan was made
                if self.missing_fails:
                    # A job's chunk may run on another host than its plan did: never store half of what was planned.
                    raise StrongroomError(
                        f"This worker cannot run {task.rule.tool}, which the migration plan needs for "
                        f"{original.path}: {err.message}",
                        details=[
                            "Install the tool on every worker that serves migration jobs (check with: "
                            "strongroom doctor), or submit the tool's own job kind (migrate-"
                            f"{task.rule.tool}) so only workers that have it take it."
                        ],
                    ) from err
                missing.append(SkippedConversion(original.path, task.purpose, task.rule.id, err.message))
                continue
            finally:
                self._step()
            attempts.append(Attempt(task, conversion, source, workdir, datetime.now(UTC)))
        return attempts, missing

    def _fetch(self, summary: PackageSummary, original: FileRecord, dest: Path) -> None:
        """Copy an original out of storage, checking its digest on the way."""
        digest = hashlib.sha256()
        with self.archive.ocfl.open(object_id(summary.uuid), f"data/{original.path}", summary.version) as stream, \
                dest.open("wb") as out:  # fmt: skip
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != original.sha256:
            raise IntegrityError(
                f"{original.path} of package {summary.name} does not match its recorded digest in storage; "
                "nothing of this package was migrated.",
                details=[f"Run: strongroom verify {summary.uuid}", f"and repair it: strongroom repair {summary.uuid}"],
            )

    def _step(self) -> None:
        with self.lock:
            self.counter.done += 1
            done = self.counter.done
        if self.progress:
            self.progress("Converting", done, self.total)

    def _journal_failures(self, attempts: Sequence[Attempt], ctx: RecordContext) -> tuple[FailedConversion, ...]:
        """Nothing was kept: the failures go to the journal (rebuild keeps them) and the catalog."""
        version = ctx.package.version
        built = [failure_event(a, ctx, version) for a in attempts]
        events: list[Event] = [event for event, _agents, _failed in built]
        agents: dict[str, Agent] = {a.key: a for _e, group, _f in built for a in group}
        package = ctx.package.uuid
        catalog = self.archive.catalog
        with catalog.lock(f"package:{package}"):
            known = {e.uuid for e in catalog.events(package)}
            fresh = [e for e in events if e.uuid not in known]  # the same failure is recorded once
            if fresh:
                self.archive.journal.append(
                    [JournalRecord(package, e, tuple(agents[k] for k in e.agents if k in agents)) for e in fresh]
                )
                catalog.record_events(package, fresh, agents.values())
        return tuple(failed for _e, _a, failed in built)


def package_errors(migration: MigrationReport) -> bool:
    return any(p.error or p.failed for p in migration.packages) or bool(migration.missing_tools)


def normalize_ingested(archive: Archive, report: IngestReport, operator: str,
                       progress: StepProgress | None = None) -> IngestReport:  # fmt: skip
    """[preservation] migrate_on_ingest: migrate a package just ingested, as its second version.

    Version 1 holds the originals exactly as received; version 2 adds their derivatives, made and
    recorded as "normalization" events. The ingest stands whatever happens here: a failure or a
    missing tool becomes a line of the ingest report, and `strongroom migrate` can finish the work.
    """
    request = MigrationRequest(operator, event_type=NORMALIZATION_EVENT)
    try:
        migration = migrate_packages(archive, [report.package], request, progress=progress)
    except StrongroomError as err:
        note = f"normalization at ingest not done: {err.message} Run later: strongroom migrate {report.package}"
        return replace(report, warnings=(*report.warnings, note))
    done: list[str] = []
    notes = list(report.warnings)
    for package in migration.packages:
        if package.version is not None:
            purposes = ", ".join(sorted({k.purpose.value for k in package.kept}))
            done.append(f"Normalization: version {package.version} made with {len(package.kept)} derivative(s) "
                        f"({purposes}); version 1 keeps the originals as received.")  # fmt: skip
        if package.failed:
            notes.append(f"normalization: {len(package.failed)} conversion(s) failed, their originals stay the "
                         "masters; see: strongroom migrate --report")  # fmt: skip
        if package.error:
            notes.append(f"normalization at ingest not done: {package.error}")
        notes.extend(package.warnings)
    notes.extend(f"normalization: tool missing: {hint}" for hint in migration.missing_tools)
    if not done and not package_errors(migration):
        done.append("Normalization: nothing to migrate by the policy.")
    latest = archive.package(report.package)
    return replace(report, warnings=tuple(notes), normalization=tuple(done), version=latest.version,
                   files=latest.files, bytes=latest.bytes, indexed=latest.indexed)  # fmt: skip
