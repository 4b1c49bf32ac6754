"""Every built-in job kind can be sent to the embedded runner's worker processes.

The embedded runner pickles its kinds into its process pool; if any one cannot be pickled (a closure), every
chunk step of every kind falls back to threads, where CPU work shares one interpreter lock and the ingest
chunk's identifier would be shared between threads. This once happened through the per-tool migrate kinds.
"""

from __future__ import annotations

import pickle

from strongroom.jobs.kinds import default_kinds


def test_every_default_kind_pickles_and_comes_back_whole() -> None:
    kinds = default_kinds()
    assert {"ingest", "audit", "replicate", "rebuild", "migrate", "migrate-libreoffice", "disposal-execute"} <= set(
        kinds
    )
    for name, kind in kinds.items():
        restored = pickle.loads(pickle.dumps(kind))
        assert restored.name == name
        assert restored.staged == kind.staged
        assert restored.tools == kind.tools
