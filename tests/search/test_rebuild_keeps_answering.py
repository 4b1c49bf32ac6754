"""`strongroom rebuild` fills a new index beside the live one: searches made meanwhile keep answering in full."""

from __future__ import annotations

import uuid

import pytest

from strongroom.archive import Archive
from strongroom.search.base import Role, SearchQuery
from tests.conftest import EXAMPLE_TRANSFER, Home
from tests.services import elasticsearch_url, opensearch_url


@pytest.fixture(params=["sqlite", "elasticsearch", "opensearch"])
def backend_home(request: pytest.FixtureRequest, home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    if request.param != "sqlite":
        url = elasticsearch_url() if request.param == "elasticsearch" else opensearch_url()
        monkeypatch.setenv("STRONGROOM_SEARCH_URL", f"{request.param}+{url}")
        monkeypatch.setenv("STRONGROOM_SEARCH_INDEX", f"strongroom-t-{uuid.uuid4().hex[:12]}")
    return home


def test_searches_during_a_rebuild_answer_from_the_old_index(backend_home: Home) -> None:
    for name in ("first", "second", "third"):
        backend_home.ingest(EXAMPLE_TRANSFER, "--name", name, "--allow-duplicate")
    query = SearchQuery("minutes", viewer=Role.ARCHIVIST, limit=100)
    with Archive.open(backend_home.path) as reader:
        before = reader.search(query)
        assert before.total >= 3
        seen_during: list[int] = []

        def searching(stage: str, done: int, total: int | None) -> None:
            # Called after each package went into the new index, before it is swapped in.
            if stage == "Indexing":
                seen_during.append(reader.search(query).total)

        with Archive.open(backend_home.path) as rebuilding:
            report = rebuilding.rebuild(searching)
        assert report.indexed == 3
        assert seen_during == [before.total] * 3
        after = reader.search(query)
    assert after.total == before.total
    assert {(h.package, h.path) for h in after.hits} == {(h.package, h.path) for h in before.hits}
