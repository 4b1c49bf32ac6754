"""Errors a user can act on.

Every error the library raises on purpose is a StrongroomError whose message says
what went wrong and, where there is one, what to do next. The CLI prints the
message and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class StrongroomError(Exception):
    """Base class: the message is written for the person at the terminal."""

    exit_code = 2

    def __init__(self, message: str, *, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return self.message + "\n" + "\n".join(f"  - {d}" for d in self.details)


class ConfigError(StrongroomError):
    """The archive home or its strongroom.toml is missing or wrong."""


class TransferError(StrongroomError):
    """The transfer cannot be ingested as it is (bad checksums, unsafe entries, bad CSV...)."""


class DuplicateTransferError(TransferError):
    """The same payload is already stored; ingest again only with --allow-duplicate."""


class StorageError(StrongroomError):
    """Storage could not complete an operation (full disk, permissions...)."""


class NotFound(StorageError):
    """The key or package does not exist."""


class IntegrityError(StorageError):
    """What was read back differs from what was written or recorded."""


class MetadataError(StrongroomError):
    """A METS/PREMIS document is invalid or cannot be read."""


class SearchError(StrongroomError):
    """The search index failed or the query could not be understood."""


class CatalogError(StrongroomError):
    """The catalog database cannot be opened, upgraded or written."""


class JournalError(StorageError):
    """The event journal in storage cannot be read or appended to."""


class HeldError(StorageError):
    """A hold (litigation, FOI/EIR, audit, investigation) forbids deleting or changing this package."""


class ApprovalError(StrongroomError):
    """A disposal approval breaks the two-person rule or comes at the wrong time."""
