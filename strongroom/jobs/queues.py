"""Routing by capability: which queue a job kind's steps go to, and which queues a worker can serve.

A kind that needs external tools sends its steps to `cap.<tools>` (one tool: `cap.libreoffice`; several:
sorted and joined, `cap.clamd+jhove`); every other kind to `default`. A worker serves `default` plus the
queues of every kind whose tools it has (as `strongroom doctor` finds them), so a step needing LibreOffice
only ever reaches a machine that has it, and waits in its queue while no such machine runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from strongroom.errors import StrongroomError
from strongroom.jobs.model import JobKind
from strongroom.tools import ToolStatus

DEFAULT_QUEUE = "default"
CAPABILITY_PREFIX = "cap."
DOCTOR_HINT = "See what this machine has with: strongroom doctor"


def queue_for_tools(tools: Iterable[str]) -> str:
    names = sorted(set(tools))
    return CAPABILITY_PREFIX + "+".join(names) if names else DEFAULT_QUEUE


def queue_for(kind: JobKind) -> str:
    """The queue the steps of `kind` go to."""
    return queue_for_tools(kind.tools)


def all_queues(kinds: Mapping[str, JobKind]) -> tuple[str, ...]:
    """Every queue some kind sends steps to, `default` first."""
    return (DEFAULT_QUEUE, *sorted({queue_for(kind) for kind in kinds.values()} - {DEFAULT_QUEUE}))


@dataclass(frozen=True)
class MissingTool:
    name: str
    how_to_install: str
    note: str | None = None  # why a tool that is present cannot be used, from the probe


@dataclass(frozen=True)
class WorkerQueues:
    """What a worker will serve, and why."""

    queues: tuple[str, ...]  # the queues to consume, `default` first when served
    found: tuple[str, ...]  # tools some kind needs that this machine has
    missing: tuple[MissingTool, ...]  # tools some kind needs that this machine lacks
    unserved: tuple[str, ...]  # queues of registered kinds this worker will not take (tools missing, or narrowed)

    def reasons(self) -> list[str]:
        """Lines a person reads when the worker starts."""
        lines = [f"Serving queues: {', '.join(self.queues)}"]
        if self.found:
            lines.append(f"Tools found: {', '.join(self.found)}")
        for tool in self.missing:
            lines.append(
                f"Tool missing: {tool.name} ({tool.note or 'not found'}); install it with {tool.how_to_install}"
            )
        if self.unserved:
            lines.append(f"Not serving: {', '.join(self.unserved)}")
        return lines


def _tool_state(tools: Sequence[ToolStatus]) -> dict[str, ToolStatus]:
    return {tool.name: tool for tool in tools}


def _has(status: ToolStatus | None) -> bool:
    # clamd is reached through its socket, so it has no command; every other tool needs one.
    return status is not None and status.found and (status.command is not None or status.name == "clamd")


def worker_queues(
    kinds: Mapping[str, JobKind], tools: Sequence[ToolStatus], requested: Sequence[str] | None = None
) -> WorkerQueues:
    """The queues a worker with `tools` serves for `kinds`; `requested` (from --queues) narrows the choice.

    Asking for a queue whose tools this machine lacks, or for a queue no kind uses, is a StrongroomError
    naming what to install (or the queues there are)."""
    statuses = _tool_state(tools)
    needed = sorted({tool for kind in kinds.values() for tool in kind.tools})
    found = tuple(name for name in needed if _has(statuses.get(name)))
    missing = tuple(
        MissingTool(name, statuses[name].how_to_install, statuses[name].note)
        if name in statuses
        else MissingTool(name, "(none: Strongroom does not know how to find this tool; a bug in a job kind)")
        for name in needed
        if name not in found
    )
    known = all_queues(kinds)
    servable = tuple(q for q in known if q == DEFAULT_QUEUE or all(t in found for t in _tools_of(q)))
    chosen = servable if requested is None else _check_requested(requested, known, servable, statuses)
    unserved = tuple(q for q in known if q not in chosen)
    return WorkerQueues(queues=chosen, found=found, missing=missing, unserved=unserved)


def _tools_of(queue: str) -> tuple[str, ...]:
    if queue == DEFAULT_QUEUE or not queue.startswith(CAPABILITY_PREFIX):
        return ()
    return tuple(queue.removeprefix(CAPABILITY_PREFIX).split("+"))


def _check_requested(
    requested: Sequence[str], known: tuple[str, ...], servable: tuple[str, ...], statuses: Mapping[str, ToolStatus]
) -> tuple[str, ...]:
    names: list[str] = []
    for raw in requested:
        name = raw.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        raise StrongroomError("--queues names no queue.", details=[f"Queues there are: {', '.join(known)}."])
    for name in names:
        if name not in known:
            raise StrongroomError(
                f"No kind of job sends its steps to a queue called {name!r}.",
                details=[f"Queues there are: {', '.join(known)}.", "Leave out --queues to serve every queue this "
                         "machine can."],
            )  # fmt: skip
        if name not in servable:
            lacking = [t for t in _tools_of(name) if not _has(statuses.get(t))]
            hints = [f"Install {t}: {statuses[t].how_to_install}" for t in lacking if t in statuses]
            raise StrongroomError(
                f"This machine cannot serve queue {name}: {', '.join(lacking)} is not installed here.",
                details=[*hints, DOCTOR_HINT],
            )
    return tuple(names)


__all__ = [
    "CAPABILITY_PREFIX",
    "DEFAULT_QUEUE",
    "MissingTool",
    "WorkerQueues",
    "all_queues",
    "queue_for",
    "queue_for_tools",
    "worker_queues",
]
