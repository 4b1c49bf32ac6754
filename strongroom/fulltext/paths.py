"""Where a record's text derivative lives in its package: `text/<original path>.txt` under the bag's data/."""

from __future__ import annotations

import uuid

TEXT_FOLDER = "text"
TEXT_SUFFIX = ".txt"
_NAMESPACE = uuid.UUID("0d5e0c1a-7f0b-4a51-9d55-3c1f4b2e8a70")


def text_path(original: str) -> str:
    """Where an original's text is kept, relative to the bag's data/ folder (originals are all under objects/)."""
    return f"{TEXT_FOLDER}/{original}{TEXT_SUFFIX}"


def source_path(derivative: str) -> str | None:
    """The original a text derivative's path belongs to; None if the path is no text derivative's."""
    prefix = f"{TEXT_FOLDER}/"
    if not derivative.startswith(prefix) or not derivative.endswith(TEXT_SUFFIX):
        return None
    return derivative[len(prefix) : -len(TEXT_SUFFIX)] or None


def text_uuid(original_uuid: str) -> str:
    """The text derivative's UUID, the same whenever the same original is extracted."""
    return str(uuid.uuid5(_NAMESPACE, f"{original_uuid}/text"))
