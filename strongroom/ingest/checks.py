"""The checks an ingest runs on received files before anything is stored: virus scanning and characterisation.

Both run over the staged copies (the bytes that will be stored), after hashing and identification.
Virus scanning covers every file; an infected one refuses the transfer (the default) or is moved to
the home's quarantine folder and left out of the package. Characterisation runs the tools the policy
names for each original's format (JHOVE, veraPDF, MediaInfo, ExifTool) and records their findings; an
invalid file is stored and flagged, never refused. Tools that are not installed are reported, not
fatal: "not checked" is a verdict, never a silent pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.errors import TransferError
from strongroom.ingest.provenance import VirusFinding, tool_agent
from strongroom.ingest.staged_files import StagedFiles
from strongroom.model import Agent, AgentType, FileRole, ToolOutcome, Validity

Progress = Callable[[str, int, int | None], None]
MAX_NAMED = 20


class InfectedAction:
    REFUSE = "refuse"
    QUARANTINE = "quarantine"


@dataclass(frozen=True)
class CheckSettings:
    virus_scan: str = "if-available"  # strongroom.ingest.virus.VirusScanMode
    clamd_socket: Path | None = None
    infected: str = InfectedAction.REFUSE
    quarantine_dir: Path | None = None  # <home>/quarantine
    characterise: bool = True
    tools_environ: dict[str, str] | None = None  # where to look for tools (default: os.environ)


@dataclass
class ChecksOutcome:
    """What the checks of some files found, in sum; outcomes of several chunks merge into one (`merged`).

    The warnings are made from the sums (`warnings`), so a transfer checked in 50 chunks says "3 file(s)
    could not be scanned" once, as one checked whole does.
    """

    agents: list[Agent] = field(default_factory=list)
    infected: list[tuple[str, str]] = field(default_factory=list)  # (path, signature): refused or quarantined later
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (path, signature)
    scanned: int = 0
    not_scanned: int = 0  # files a scanner could not scan (too large, unreadable); 0 when none ran
    scanner: str | None = None  # "ClamAV 1.0.9, database ..." when a scanner ran; None otherwise
    scan_skipped: str | None = None  # why no scanner ran (if-available with none, or off)
    scan_warning: str | None = None  # the warning of a scanner that was wanted but not there
    notes: list[str] = field(default_factory=list)  # per-file warnings, in path order
    invalid: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        said = [self.scan_warning] if self.scan_warning else []
        if self.not_scanned:
            said.append(
                f"{self.not_scanned} file(s) could not be scanned for viruses (too large for the scanner's limits, or "
                "unreadable); their virus check events say which and why"
            )
        if self.quarantined:
            said.append(
                f"{len(self.quarantined)} infected file(s) moved to quarantine and left out of the package: "
                + ", ".join(f"{path} ({sig})" for path, sig in self.quarantined[:MAX_NAMED])
            )
        said += self.notes
        if self.invalid:
            said.append(
                f"{len(self.invalid)} file(s) are not valid for their format (stored and flagged): "
                + "; ".join(self.invalid[:MAX_NAMED])
            )
        return said

    def to_json(self) -> dict[str, Any]:
        return {
            "agents": [agent_to_json(a) for a in self.agents], "infected": self.infected,
            "quarantined": self.quarantined, "scanned": self.scanned, "not_scanned": self.not_scanned,
            "scanner": self.scanner, "scan_skipped": self.scan_skipped, "scan_warning": self.scan_warning,
            "notes": self.notes, "invalid": self.invalid,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChecksOutcome:
        return cls(
            agents=[agent_from_json(a) for a in data["agents"]],
            infected=[(p, s) for p, s in data["infected"]], quarantined=[(p, s) for p, s in data["quarantined"]],
            scanned=data["scanned"], not_scanned=data["not_scanned"], scanner=data["scanner"],
            scan_skipped=data["scan_skipped"], scan_warning=data["scan_warning"], notes=list(data["notes"]),
            invalid=list(data["invalid"]),
        )  # fmt: skip

    @classmethod
    def merged(cls, parts: Iterable[ChecksOutcome]) -> ChecksOutcome:
        """One outcome of many (chunks, in order): sums added, lists joined, each agent once."""
        out = cls()
        for part in parts:
            out.agents += [a for a in part.agents if a.key not in {b.key for b in out.agents}]
            out.infected += part.infected
            out.quarantined += part.quarantined
            out.scanned += part.scanned
            out.not_scanned += part.not_scanned
            out.scanner = out.scanner or part.scanner
            out.scan_skipped = out.scan_skipped or part.scan_skipped
            out.scan_warning = out.scan_warning or part.scan_warning
            out.notes += part.notes
            out.invalid += part.invalid
        return out


def agent_to_json(agent: Agent) -> list[str | None]:
    return [agent.identifier_type, agent.identifier_value, agent.name, agent.type.value, agent.note]


def agent_from_json(data: Sequence[Any]) -> Agent:
    return Agent(data[0], data[1], data[2], AgentType(data[3]), data[4])


@dataclass
class CheckTools:
    """The characterisation tools found and the policy, looked up once and reused for many chunks.

    Finding the tools costs about a JVM start; a worker that checks chunk after chunk finds them once.
    """

    settings: CheckSettings
    _found: tuple[list[Any], Any] | None = None

    def characterisation(self) -> tuple[list[Any], Any]:
        if self._found is None:
            from strongroom.preservation.characterise import load_policy
            from strongroom.tools import CHARACTERISATION_PROBES, find_tools

            self._found = (find_tools(self.settings.tools_environ, probes=CHARACTERISATION_PROBES), load_policy())
        return self._found


def run_checks(
    settings: CheckSettings,
    staged: StagedFiles,
    data_dir: Path,
    package: str,
    progress: Progress | None = None,
    workers: int = 2,
) -> ChecksOutcome:
    """Check `staged` whole: scan, act on infected files (refuse or quarantine), characterise the rest."""
    outcome = check_files(settings, staged, data_dir, progress, workers)
    settle_infected(settings, staged, data_dir, package, outcome)
    return outcome


def check_files(
    settings: CheckSettings,
    staged: StagedFiles,
    data_dir: Path,
    progress: Progress | None = None,
    workers: int = 2,
    tools: CheckTools | None = None,
) -> ChecksOutcome:
    """Scan and characterise some staged files (a chunk of a transfer, or all of it); infected files are only
    noted (`outcome.infected`, not characterised): `settle_infected` refuses the transfer or quarantines them,
    once every chunk is checked and the supplied checksums have had their say."""
    outcome = ChecksOutcome()
    _scan_for_viruses(settings, staged, data_dir, outcome, progress, workers)
    if settings.characterise:
        _characterise(tools or CheckTools(settings), staged, data_dir, outcome, progress, workers)
    return outcome


def settle_infected(
    settings: CheckSettings, staged: StagedFiles, data_dir: Path, package: str, outcome: ChecksOutcome
) -> None:
    """Refuse the transfer for its infected files, or move them to quarantine and out of the package."""
    infected, outcome.infected = outcome.infected, []
    if infected and settings.infected != InfectedAction.QUARANTINE:
        named = [f"{path}: {signature}" for path, signature in infected[:MAX_NAMED]]
        raise TransferError(
            f"{len(infected)} file(s) of the transfer carry a virus; nothing was stored.",
            details=[*named, *([f"... and {len(infected) - MAX_NAMED} more"] if len(infected) > MAX_NAMED else []),
                     "Clean or remove the files and ingest again; or set [ingest] infected = \"quarantine\" to store "
                     "the rest and move infected files to the quarantine folder."],
        )  # fmt: skip
    for path, signature in infected:
        _quarantine(settings, data_dir, package, path)
        staged.remove(path)
        outcome.quarantined.append((path, signature))


def _scan_for_viruses(
    settings: CheckSettings, staged: StagedFiles, data_dir: Path, outcome: ChecksOutcome,
    progress: Progress | None, workers: int,
) -> None:  # fmt: skip
    from strongroom.ingest.virus import ScanStatus, VirusScanMode, open_scanner

    try:
        mode = VirusScanMode(settings.virus_scan)
    except ValueError:
        raise TransferError(
            f'[ingest] virus_scan must be "required", "if-available" or "off", not {settings.virus_scan!r}.'
        ) from None
    scanner, warning = open_scanner(mode, settings.clamd_socket)
    if scanner is None:
        outcome.scan_skipped = warning or 'virus scanning is turned off ([ingest] virus_scan = "off")'
        outcome.scan_warning = warning
        return
    info = scanner.info()
    outcome.scanner = info.describe()
    outcome.agents.append(tool_agent(info.engine, info.engine_version, note=f"database {info.database_version}"))
    files = [(data_dir / path, path) for path, _role, _puid in staged.paths()]
    total = len(files)

    def step(done: int) -> None:
        if progress:
            progress("Scanning for viruses", done, total)

    results = scanner.scan_many(files, workers=max(2, workers), progress=step)
    for result in results:
        if result.status is ScanStatus.INFECTED:
            outcome.infected.append((result.path, result.signature or "unknown"))
            continue
        staged.set_virus_finding(
            result.path, VirusFinding(result.status.value, result.signature, result.detail, outcome.scanner)
        )
        outcome.scanned += result.status is ScanStatus.CLEAN
        outcome.not_scanned += result.status is ScanStatus.NOT_SCANNED


def _quarantine(settings: CheckSettings, data_dir: Path, package: str, path: str) -> None:
    if settings.quarantine_dir is None:
        raise TransferError("An infected file was to be quarantined, but no quarantine folder is set.")
    target = settings.quarantine_dir / package / path
    source = data_dir / path
    if not source.exists() and target.is_file():
        return  # moved by an earlier run of this ingest's finalize, cut off before it stored the package
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)  # a copy a move cut off left behind (the file is still in the bag)
    # The quarantined copy must never be executable or readable by others.
    shutil.move(str(source), target)
    target.chmod(0o400)


# An unidentified file that begins as a format we validate is validated as that format, and the identification
# stays "none": DROID's PDF and JPEG signatures need the end marker too, so the commonest damage, a file cut
# short, would otherwise never reach a validator and be stored "not checked" instead of "invalid".
_VALIDATE_AS = ((b"%PDF-", "fmt/276", "PDF"), (b"\xff\xd8\xff", "fmt/43", "JPEG"))


def _validation_puid(file: Path, puid: str | None) -> tuple[str | None, str | None]:
    """The PUID whose checks apply, and the format named when it is a guess from the first bytes."""
    if puid is not None:
        return puid, None
    try:
        with file.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None, None
    return next(((guess, name) for magic, guess, name in _VALIDATE_AS if head.startswith(magic)), (None, None))


def _characterise(
    tools_found: CheckTools, staged: StagedFiles, data_dir: Path, outcome: ChecksOutcome,
    progress: Progress | None, workers: int,
) -> None:  # fmt: skip
    from strongroom.preservation.characterise import Characteriser

    infected = {path for path, _ in outcome.infected}
    originals: list[tuple[Path, str, str | None]] = []
    guessed: dict[str, str] = {}
    for path, role, puid in staged.paths():
        if role != FileRole.ORIGINAL or path in infected:
            continue
        checks_as, guess = _validation_puid(data_dir / path, puid)
        originals.append((data_dir / path, path, checks_as))
        if guess:
            guessed[path] = guess
    if not originals:
        return
    tools, policy = tools_found.characterisation()
    found = [t for t in tools if t.found and t.version]
    total = len(originals)

    def step(done: int) -> None:
        if progress:
            progress("Characterising", done, total)

    results = Characteriser(tools, policy).characterise(originals, workers=workers, progress=step)
    used: set[str] = set()
    for (_, path, _puid), result in zip(originals, results, strict=True):
        outcomes = tuple(
            ToolOutcome(r.tool, r.version, r.well_formed, r.valid, r.format_name, r.messages) for r in result.results
        )
        used |= {r.tool for r in result.results if r.version}
        validity = Validity(result.verdict)
        staged.set_characterisation(path, validity, outcomes)
        if validity is Validity.INVALID:
            outcome.invalid.append(f"{path}: {result.reason}")
        if path in guessed and result.results:
            outcome.notes.append(
                f"{path} matched no format signature; it begins like a {guessed[path]} file, so it was validated as "
                f"one: {validity.value}"
            )
    for tool in found:
        if any(tool.name.lower() == name.lower() for name in used):
            outcome.agents.append(tool_agent(_display_name(tool.name, used), tool.version or "unknown"))


def _display_name(name: str, used: set[str]) -> str:
    """The tool's name as its results give it (JHOVE, veraPDF...), so agents and events agree."""
    return next((u for u in used if u.lower() == name.lower()), name)
