"""Job kinds of this area (filled by its owner)."""

from __future__ import annotations

from strongroom.jobs.model import JobKind

JOB_KINDS: tuple[JobKind, ...] = ()
