"""Routing by capability: the queue of each kind, and which queues a worker with some tools serves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from strongroom.errors import StrongroomError
from strongroom.jobs.model import JobContext, JobKind
from strongroom.jobs.queues import all_queues, queue_for, queue_for_tools, worker_queues
from strongroom.tools import ToolStatus


def nothing(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


def kind(name: str, *tools: str) -> JobKind:
    return JobKind(name, name.title(), nothing, "ingest", tools=tools)


KINDS = {
    k.name: k
    for k in (
        kind("plain"),
        kind("convert", "libreoffice"),
        kind("video", "ffmpeg"),
        kind("scan", "jhove", "clamd"),
        kind("scan-again", "clamd", "jhove", "clamd"),
    )
}


def tool(name: str, found: bool = True, *, command: tuple[str, ...] | None = None) -> ToolStatus:
    return ToolStatus(name, f"does {name}", found, "1.0" if found else None,
                      command if command is not None else ((f"/usr/bin/{name}",) if found else None),
                      f"apt-get install {name}", None if found else "not on PATH")  # fmt: skip


def test_queue_names_follow_the_tools() -> None:
    assert queue_for(KINDS["plain"]) == "default"
    assert queue_for(KINDS["convert"]) == "cap.libreoffice"
    # several tools: sorted and joined, however the kind lists them (and repeats them)
    assert queue_for(KINDS["scan"]) == "cap.clamd+jhove"
    assert queue_for(KINDS["scan-again"]) == "cap.clamd+jhove"
    assert queue_for_tools([]) == "default"
    assert all_queues(KINDS) == ("default", "cap.clamd+jhove", "cap.ffmpeg", "cap.libreoffice")


def test_a_worker_serves_the_queues_of_the_tools_it_has() -> None:
    # clamd is reached by its socket, so it is found with no command
    tools = [tool("libreoffice"), tool("ffmpeg", found=False), tool("jhove"), tool("clamd", command=())]
    plan = worker_queues(KINDS, tools)
    assert plan.queues == ("default", "cap.clamd+jhove", "cap.libreoffice")
    assert plan.unserved == ("cap.ffmpeg",)
    assert plan.found == ("clamd", "jhove", "libreoffice")
    assert [m.name for m in plan.missing] == ["ffmpeg"]
    words = "\n".join(plan.reasons())
    assert "Serving queues: default, cap.clamd+jhove, cap.libreoffice" in words
    assert "Tool missing: ffmpeg (not on PATH); install it with apt-get install ffmpeg" in words


def test_a_capability_queue_needs_every_tool_of_it() -> None:
    plan = worker_queues(KINDS, [tool("jhove"), tool("clamd", found=False)])
    assert "cap.clamd+jhove" not in plan.queues
    assert plan.queues == ("default",)


def test_queues_asked_for_narrow_the_choice() -> None:
    tools = [tool("libreoffice"), tool("ffmpeg")]
    assert worker_queues(KINDS, tools, ["cap.ffmpeg"]).queues == ("cap.ffmpeg",)
    plan = worker_queues(KINDS, tools, [" default", "cap.ffmpeg ", "default", ""])
    assert plan.queues == ("default", "cap.ffmpeg")
    assert plan.unserved == ("cap.clamd+jhove", "cap.libreoffice")


def test_a_queue_whose_tool_is_missing_is_refused_with_the_doctor_hint() -> None:
    with pytest.raises(StrongroomError) as caught:
        worker_queues(KINDS, [tool("ffmpeg", found=False)], ["default", "cap.ffmpeg"])
    assert caught.value.message == "This machine cannot serve queue cap.ffmpeg: ffmpeg is not installed here."
    assert list(caught.value.details) == [
        "Install ffmpeg: apt-get install ffmpeg",
        "See what this machine has with: strongroom doctor",
    ]


def test_an_unknown_or_empty_queue_is_refused_naming_the_queues_there_are() -> None:
    with pytest.raises(StrongroomError) as caught:
        worker_queues(KINDS, [], ["cap.ffmepg"])
    assert "No kind of job sends its steps to a queue called 'cap.ffmepg'" in caught.value.message
    assert "Queues there are: default, cap.clamd+jhove, cap.ffmpeg, cap.libreoffice." in caught.value.details
    with pytest.raises(StrongroomError, match="names no queue"):
        worker_queues(KINDS, [], [" ", ""])


def test_a_tool_strongroom_cannot_find_is_missing_not_a_crash() -> None:
    kinds = {"odd": kind("odd", "teleporter")}
    plan = worker_queues(kinds, [tool("ffmpeg")])
    assert plan.queues == ("default",)
    assert [m.name for m in plan.missing] == ["teleporter"]
    with pytest.raises(StrongroomError, match=r"cannot serve queue cap\.teleporter: teleporter is not installed"):
        worker_queues(kinds, [], ["cap.teleporter"])
