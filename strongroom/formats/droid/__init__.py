"""Format identification with DROID signature files, giving DROID 6.5.2's answers.

- syntax.py: byte-sequence text → fixed-length patterns (DROID's FragmentRewriter + byteseek)
- sequence.py: DROID's ByteSequence/SubSequence matching, ported step for step
- nearest.py: which anchor hits the fragment walk could match from (skips the rest)
- signatures.py: the DROID signature file, read as DROID reads it
- matcher.py: Hyperscan prefilter (anchor windows, literals anywhere), DROID's order, priorities, extensions
- container.py: container signatures (OLE2, ZIP)
- cache.py: the compiled form on disk
- identifier.py: DroidIdentifier (the Identifier protocol)

Imported lazily so that sequence.py can be used without loading the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.formats.droid.identifier import DroidIdentifier, DroidSettings

__all__ = ["DroidIdentifier", "DroidSettings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from strongroom.formats.droid import identifier

        return getattr(identifier, name)
    raise AttributeError(name)
