"""ElasticSearchIndex: the search contract on real Elasticsearch 8.19 and OpenSearch 3.6 nodes, plus their own concerns.

The nodes are the test servers of scripts/services.sh (tests/services.py starts them once);
each test gets an index prefix of its own, deleted afterwards, so workers never share data.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from strongroom.config import load_settings
from strongroom.errors import ConfigError, SearchError
from strongroom.search import open_search, search_kinds
from strongroom.search.base import HIGHLIGHT_END, HIGHLIGHT_START, Role, SearchDocument, SearchQuery
from strongroom.search.elastic import ElasticSearchIndex
from strongroom.search.elastic_mapping import MAPPING_VERSION, document_id, source_of, versioned_name
from strongroom.search.elastic_query import encode_cursor, unfold_fragment
from tests.contracts.search_contract import DOCUMENTS, GUARDED, SECRET, SearchContract
from tests.services import elasticsearch_url, opensearch_url

SERVERS: dict[str, Callable[[], str]] = {"elasticsearch": elasticsearch_url, "opensearch": opensearch_url}
FAST_RETRIES = (0.05, 0.1, 0.2)


# --- talking to the node directly, to look behind the backend's back -------------------------------


def raw(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def indices_of(url: str, prefix: str) -> list[str]:
    status, listed = raw(url, "GET", f"/_cat/indices/{prefix}-v*?format=json&h=index&expand_wildcards=all")
    assert status == 200, listed
    return sorted(row["index"] for row in listed)


def alias_targets(url: str, prefix: str) -> list[str]:
    status, answer = raw(url, "GET", f"/_alias/{prefix}")
    return sorted(answer) if status == 200 else []


def drop_prefix(url: str, prefix: str) -> None:
    for name in indices_of(url, prefix):
        raw(url, "DELETE", f"/{name}")


def fresh_prefix() -> str:
    return f"strongroom-t-{os.getpid()}-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def fresh_index(kind: str, **options: Any) -> Iterator[ElasticSearchIndex]:
    url = SERVERS[kind]()
    prefix = fresh_prefix()
    index = ElasticSearchIndex(kind, options.pop("url", url), index=prefix, **options)
    try:
        yield index
    finally:
        index.close()
        drop_prefix(url, prefix)


class TestElasticsearchContract(SearchContract):
    @pytest.fixture
    def search_index(self) -> Iterator[ElasticSearchIndex]:
        with fresh_index("elasticsearch") as index:
            yield index


class TestOpenSearchContract(SearchContract):
    @pytest.fixture
    def search_index(self) -> Iterator[ElasticSearchIndex]:
        with fresh_index("opensearch") as index:
            yield index


@pytest.fixture(params=sorted(SERVERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def doc(package: str, path: str | None, content: str = "word", **fields: Any) -> SearchDocument:
    return SearchDocument(
        package=package, package_name=f"name-{package}", path=path, title=None, content=content, **fields
    )


def find(index: ElasticSearchIndex, text: str, **options: Any) -> Any:
    return index.search(SearchQuery(text=text, **options))


# --- a proxy that can refuse, for retry tests ---------------------------------------------------


class BusyProxy:
    """An HTTP proxy on 127.0.0.1 in front of a node: answers `busy` bulk requests with 429, forwards the rest.

    The node cannot be told to be too busy on demand, so the proxy says it instead; every
    other request (and the retries) reach the real node. `requests` records what came.
    """

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.busy = 0
        self.gone = False  # True: every request is dropped unanswered, as by a server that died
        self.requests: list[tuple[str, str, int]] = []  # method, path, status answered
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.gone:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                with proxy.lock:
                    refuse = "_bulk" in self.path and proxy.busy > 0
                    if refuse:
                        proxy.busy -= 1
                if refuse:
                    self._answer(429, b'{"error":{"type":"es_rejected_execution_exception","reason":"busy"}}')
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                self._answer(answer.status, payload, answer.getheaders())

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

            def _answer(self, status: int, payload: bytes, headers: list[tuple[str, str]] | None = None) -> None:
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                sent = {"content-length", "transfer-encoding", "connection"}
                for name, value in headers or [("Content-Type", "application/json")]:
                    if name.lower() not in sent:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bulk_requests(self) -> list[int]:
        with self.lock:
            return [status for _, path, status in self.requests if "_bulk" in path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(kind: str) -> Iterator[BusyProxy]:
    busy = BusyProxy(SERVERS[kind]())
    yield busy
    busy.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the alias, rebuilds and versions -------------------------------------------------------------


def test_first_use_creates_a_versioned_index_behind_the_alias(kind: str) -> None:
    with fresh_index(kind) as index:
        url = SERVERS[kind]()
        (live,) = alias_targets(url, index.alias)
        assert live.startswith(f"{index.alias}-v{MAPPING_VERSION}-")
        assert indices_of(url, index.alias) == [live]
        # A second opening finds it and makes nothing new.
        again = ElasticSearchIndex(kind, url, index=index.alias)
        again.close()
        assert alias_targets(url, index.alias) == [live]
        assert indices_of(url, index.alias) == [live]


def test_a_search_during_a_rebuild_answers_from_the_old_index(kind: str) -> None:
    with fresh_index(kind, chunk_documents=2) as index:
        url = SERVERS[kind]()
        index.index(DOCUMENTS)
        (old,) = alias_targets(url, index.alias)
        rebuild = index.start_rebuild()
        seen_during: list[int] = []
        new_docs = [replace(d, content="rebuilt lighthouse text") for d in DOCUMENTS if d.path]

        def filling() -> Iterator[SearchDocument]:
            for number, document in enumerate(new_docs):
                if number == 3:  # one chunk of 2 is already in the new index
                    seen_during.append(find(index, "dredging").total)
                    seen_during.append(find(index, "lighthouse").total)
                    assert indices_of(url, index.alias) == sorted([old, rebuild.index_name])
                yield document

        assert rebuild.index(filling()) == len(new_docs)
        assert seen_during == [1, 0]  # the old words still found, the new ones not yet
        assert find(index, "lighthouse").total == 0
        assert alias_targets(url, index.alias) == [old]

        rebuild.finish()

        assert alias_targets(url, index.alias) == [rebuild.index_name]
        assert indices_of(url, index.alias) == [rebuild.index_name]  # the old index is gone
        assert find(index, "lighthouse").total == len(new_docs)
        assert find(index, "dredging").total == 0
        with pytest.raises(SearchError, match="already"):
            rebuild.index(DOCUMENTS)


def test_an_abandoned_rebuild_leaves_the_live_index_alone(kind: str) -> None:
    with fresh_index(kind) as index:
        url = SERVERS[kind]()
        index.index(DOCUMENTS)
        (old,) = alias_targets(url, index.alias)
        rebuild = index.start_rebuild()
        rebuild.index([doc("p", "objects/new.txt", "novelty")])
        rebuild.abandon()

        assert indices_of(url, index.alias) == [old]
        assert alias_targets(url, index.alias) == [old]
        assert find(index, "").total == len(DOCUMENTS)
        assert find(index, "novelty").total == 0


def test_a_finished_rebuild_stays_live_when_the_old_index_cannot_be_deleted(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_index(kind) as index:
        url = SERVERS[kind]()
        index.index(DOCUMENTS)
        (old,) = alias_targets(url, index.alias)
        rebuild = index.start_rebuild()
        rebuild.index([doc("p", "objects/new.txt", "novelty")])
        real_drop = index._drop_index

        def refusing(name: str) -> None:
            if name == old:
                raise SearchError("Could not delete an index: the cluster answered HTTP 503")
            real_drop(name)

        monkeypatch.setattr(index, "_drop_index", refusing)
        with pytest.raises(SearchError, match="503"):
            rebuild.finish()
        rebuild.abandon()  # what `strongroom rebuild` does on any error: it must not drop the live index

        assert alias_targets(url, index.alias) == [rebuild.index_name]
        assert find(index, "novelty").total == 1
        assert sorted(indices_of(url, index.alias)) == sorted([old, rebuild.index_name])


def test_clear_swaps_in_an_empty_index(kind: str) -> None:
    with fresh_index(kind) as index:
        url = SERVERS[kind]()
        index.index(DOCUMENTS)
        (old,) = alias_targets(url, index.alias)
        index.clear()
        (new,) = alias_targets(url, index.alias)
        assert new != old
        assert indices_of(url, index.alias) == [new]
        assert find(index, "", viewer=Role.ADMIN).total == 0


def test_an_index_of_an_older_mapping_is_replaced_by_an_empty_one(kind: str) -> None:
    url = SERVERS[kind]()
    prefix = fresh_prefix()
    old = versioned_name(prefix).replace(f"-v{MAPPING_VERSION}-", f"-v{MAPPING_VERSION - 1}-")
    try:
        assert raw(url, "PUT", f"/{old}", {"aliases": {prefix: {}}})[0] == 200
        with ElasticSearchIndex(kind, url, index=prefix) as index:
            (live,) = alias_targets(url, prefix)
            assert live.startswith(f"{prefix}-v{MAPPING_VERSION}-")
            assert indices_of(url, prefix) == [live]
            assert index.packages() == set()
    finally:
        drop_prefix(url, prefix)


def test_an_index_that_is_not_strongroom_s_alias_is_refused(kind: str) -> None:
    url = SERVERS[kind]()
    prefix = fresh_prefix()
    try:
        assert raw(url, "PUT", f"/{prefix}", {})[0] == 200
        with pytest.raises(SearchError, match="not Strongroom's alias"):
            ElasticSearchIndex(kind, url, index=prefix)
    finally:
        raw(url, "DELETE", f"/{prefix}")


# --- writing ------------------------------------------------------------------------------------------


def test_reindexing_is_idempotent(kind: str) -> None:
    with fresh_index(kind) as index:
        url = SERVERS[kind]()
        for _ in range(3):
            assert index.index([*DOCUMENTS, *GUARDED]) == len(DOCUMENTS) + len(GUARDED)
        status, answer = raw(url, "POST", f"/{index.alias}/_search", {"size": 100, "_source": False})
        assert status == 200
        ids = {hit["_id"] for hit in answer["hits"]["hits"]}
        assert ids == {document_id(d.package, d.path) for d in (*DOCUMENTS, *GUARDED)}
        assert find(index, "", viewer=Role.ADMIN).total == len(DOCUMENTS) + len(GUARDED)


def test_bulk_writes_go_in_bounded_chunks(kind: str, proxy: BusyProxy) -> None:
    with fresh_index(kind, url=proxy.url, chunk_documents=100, chunk_bytes=200_000) as index:
        many = [doc("p", f"objects/{n:04}.txt", f"word{n % 5}") for n in range(450)]
        assert index.index(many) == 450
        assert len(proxy.bulk_requests()) == 5  # 100 documents a request at most

        proxy.requests.clear()
        big = [doc("q", f"objects/big{n}.txt", ("lorem ipsum " * 2000) + f"marker{n}") for n in range(8)]
        size = len(json.dumps(source_of(big[0]), ensure_ascii=False).encode())
        assert 40_000 < size < 50_000  # the text twice: folded for searching, as given for showing
        assert index.index(big) == 8
        assert len(proxy.bulk_requests()) == 2  # four to a 200 KB request at most
        assert find(index, "marker7").total == 1
        assert find(index, "word3").total == 90


def test_a_busy_cluster_is_retried(kind: str, proxy: BusyProxy) -> None:
    with fresh_index(kind, url=proxy.url, retry_delays=FAST_RETRIES) as index:
        proxy.busy = 2
        assert index.index(DOCUMENTS) == len(DOCUMENTS)

        assert proxy.bulk_requests() == [429, 429, 200]
        assert find(index, "").total == len(DOCUMENTS)


def test_a_cluster_busy_for_too_long_is_a_clear_error(kind: str, proxy: BusyProxy) -> None:
    with fresh_index(kind, url=proxy.url, retry_delays=FAST_RETRIES) as index:
        proxy.busy = 100
        with pytest.raises(SearchError, match="HTTP 429") as caught:
            index.index(DOCUMENTS)

        assert proxy.bulk_requests() == [429] * (len(FAST_RETRIES) + 1)
        assert proxy.url in str(caught.value)


def test_a_server_gone_mid_way_is_a_clear_error(kind: str, proxy: BusyProxy) -> None:
    with fresh_index(kind, url=proxy.url, retry_delays=FAST_RETRIES, chunk_documents=2) as index:

        def then_gone() -> Iterator[SearchDocument]:
            for number, document in enumerate(DOCUMENTS):
                if number == 4:
                    proxy.gone = True  # the "server" stops answering between two chunks
                    proxy.close()
                yield document

        started = time.monotonic()
        with pytest.raises(SearchError, match="no answer") as caught:
            index.index(then_gone())

        assert time.monotonic() - started < 10
        assert proxy.url in str(caught.value)
        assert "Check that the server runs" in str(caught.value)


# --- reaching the cluster -------------------------------------------------------------------------------


def test_an_unreachable_url_fails_fast_and_plainly(kind: str) -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(SearchError) as caught:
        ElasticSearchIndex(kind, f"http://someone:hunter2@127.0.0.1:{port}")

    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message
    assert "Check that the server runs" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://127.0.0.1:9", "shards": 3}, "Known options: ca_certs, index, timeout, url"),
        ({}, "needs a 'url'"),
        ({"url": "ftp://example.org"}, "not an http"),
        ({"url": "http://127.0.0.1:9", "index": "Upper Case"}, "lower-case"),
        ({"url": "http://127.0.0.1:9", "index": "_hidden"}, "lower-case"),
        ({"url": "http://127.0.0.1:9", "timeout": 0}, "timeout"),
        ({"url": "http://127.0.0.1:9", "ca_certs": "/no/such/ca.pem"}, "ca_certs"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object], message: str) -> None:
    assert {"elasticsearch", "opensearch"} <= set(search_kinds())
    for kind in ("elasticsearch", "opensearch"):
        with pytest.raises(ConfigError, match=message):
            open_search(kind, options)


def test_search_url_in_the_config_opens_the_right_backend(kind: str, tmp_path: Path) -> None:
    url = SERVERS[kind]()
    prefix = fresh_prefix()
    (tmp_path / "strongroom.toml").write_text(
        f'[search]\nurl = "{kind}+{url}"\nindex = "{prefix}"\ntimeout = 20\n', encoding="utf-8"
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.search_kind == kind
    try:
        index = open_search(settings.search_kind, settings.search_options)
        try:
            assert isinstance(index, ElasticSearchIndex)
            assert (index.name, index.alias, index.url) == (kind, prefix, url)
            index.index(DOCUMENTS)
            assert find(index, "dredging").total == 1
        finally:
            index.close()
    finally:
        drop_prefix(url, prefix)


def test_the_elasticsearch_client_is_not_used_for_opensearch() -> None:
    # The Elasticsearch 8 client refuses OpenSearch; opening OpenSearch as Elasticsearch is a plain error.
    url = opensearch_url()
    with pytest.raises(SearchError, match="is not Elasticsearch") as caught:
        ElasticSearchIndex("elasticsearch", url, index=fresh_prefix())
    assert "opensearch+http" in str(caught.value)


# --- words ---------------------------------------------------------------------------------------------


def test_elasticsearch_node_has_no_analysis_common_yet_folds_accents() -> None:
    url = elasticsearch_url()
    status, plugins = raw(url, "GET", "/_nodes/plugins")
    assert status == 200
    modules = {module["name"] for node in plugins["nodes"].values() for module in node["modules"]}
    assert "analysis-common" not in modules  # no asciifolding filter on this node
    with fresh_index("elasticsearch") as index:
        index.index(
            [
                doc("p", "objects/a.txt", "Les procès-verbaux de Montréal et de Łódź, naïve café"),
                doc("p", "objects/b.txt", "Plain MONTREAL in capitals"),
            ]
        )
        assert {hit.path for hit in find(index, "montreal").hits} == {"objects/a.txt", "objects/b.txt"}
        # Ł is a letter of its own (no accent to take off), as in fold() and SQLite; ó and ź fold.
        assert [hit.path for hit in find(index, "ŁODZ").hits] == ["objects/a.txt"]
        assert find(index, "lodz").total == 0
        assert [hit.path for hit in find(index, '"naive cafe"').hits] == ["objects/a.txt"]
        assert [hit.path for hit in find(index, "proces verbaux").hits] == ["objects/a.txt"]
        assert [hit.path for hit in find(index, "procès*").hits] == ["objects/a.txt"]
        (hit,) = find(index, "Łódź").hits
        # The snippet shows the original text, accents and all, with the folded match marked.
        assert hit.snippet is not None
        assert f"{HIGHLIGHT_START}Łódź{HIGHLIGHT_END}" in hit.snippet
        assert "naïve café" in hit.snippet


def test_snippets_show_the_original_text() -> None:
    fragment = f"Council of {HIGHLIGHT_START}Montreal{HIGHLIGHT_END} 1999"
    assert unfold_fragment(fragment, ["The Council of Montréal 1999!"]) == (
        f"Council of {HIGHLIGHT_START}Montréal{HIGHLIGHT_END} 1999"
    )
    # NFD text is shown composed, as it was indexed.
    assert unfold_fragment(fragment, ["nothing", "Council of Montre\u0301al 1999"]).count("é") == 1
    # Not found (the original changed): the folded fragment as it is.
    assert unfold_fragment(fragment, ["something else"]) == fragment


def test_deep_paging_and_packages_past_ten_thousand(kind: str) -> None:
    with fresh_index(kind) as index:
        count = 10_050
        packages = [f"pkg-{n:05}" for n in range(count)]
        assert index.index(doc(package, None, "bulk") for package in packages) == count
        assert index.packages() == set(packages)

        with pytest.raises(SearchError, match="10,000"):
            find(index, "bulk", offset=9_990, limit=20)
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            page = find(index, "bulk", sort="oldest", limit=2_500, after=after)
            seen.extend(hit.package for hit in page.hits)
            pages += 1
            assert page.total == count
            after = page.next_after
            if after is None:
                break
        assert pages == 5
        assert seen == packages  # undated: in package order, each once


def test_a_changed_cursor_is_refused(kind: str) -> None:
    with fresh_index(kind) as index:
        index.index(DOCUMENTS)
        first = find(index, "", limit=2)
        assert first.next_after is not None
        second = find(index, "", limit=2, after=first.next_after)
        assert not {hit.path for hit in first.hits} & {hit.path for hit in second.hits}
        for cursor in (
            first.next_after[:-1] + ("0" if first.next_after[-1] != "0" else "1"),
            "garbage",
            "",
            encode_cursor("newest", [1, "a", "b"]),  # made for another sort
            encode_cursor("relevance", [1.0, "a"]),
        ):
            with pytest.raises(SearchError, match="cursor"):
                find(index, "", limit=2, after=cursor)
        with pytest.raises(SearchError, match="offset"):
            find(index, "", limit=2, offset=2, after=first.next_after)


def test_a_researcher_never_gets_a_closed_snippet_from_the_highlighter(kind: str) -> None:
    with fresh_index(kind) as index:
        index.index([*DOCUMENTS, *GUARDED])
        for text in (SECRET, f"{SECRET} OR inquiry", f"inquiry -{SECRET}", f"{SECRET[:4]}*"):
            results = find(index, text, limit=100, facets=("access", "package"))
            for hit in results.hits:
                assert SECRET not in (hit.snippet or "").lower()
                assert hit.path != "objects/cases/witness statement.docx"
