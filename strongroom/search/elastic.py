"""A SearchIndex on an Elasticsearch 8/9 or OpenSearch 2/3 cluster.

One class for both servers, over `ClusterClient`, which picks the official client each
needs. The index is versioned behind an alias: `<prefix>-v<N>-<timestamp>`, reached through
the alias `<prefix>`. Searches and ordinary writes go through the alias; a rebuild fills a
new versioned index beside the live one and swaps the alias in one `_aliases` call, so
searches keep answering from the old index until the new one is complete.

Writes go in bulk requests of bounded size, retried with backoff when the cluster is busy
(429), briefly unavailable (502-504) or does not answer; documents are refreshed before
index() returns, so they are searchable at once, as the contract requires. Nothing here
needs a module beyond the core server (no reindex, no painless, no analysis-common), so
it runs on Elasticsearch's integ-test build as on any full cluster.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from strongroom.errors import ConfigError, SearchError
from strongroom.search.base import SearchDocument, SearchQuery, SearchResults
from strongroom.search.elastic_client import RETRYABLE, ClusterClient, ClusterFailure, cluster_address
from strongroom.search.elastic_mapping import (
    MAPPING_VERSION,
    check_prefix,
    document_id,
    index_body,
    mapping_version_of,
    source_of,
    versioned_name,
)
from strongroom.search.elastic_query import check_query, request_body, results_of

OPTIONS = ("ca_certs", "index", "timeout", "url")
# A bulk request holds at most this many documents or (about) this many bytes, whichever
# comes first; a single larger document goes alone.
CHUNK_DOCUMENTS = 500
CHUNK_BYTES = 5_000_000
# Waits between attempts of a request the cluster was too busy for (or did not answer).
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
_PROBE_TIMEOUT = 10.0
T = TypeVar("T")
_NAMES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}


def open_elastic(kind: str, options: Mapping[str, object]) -> ElasticSearchIndex:
    """The backend for `kind` ("elasticsearch" or "opensearch") from its [search] options.

    Credentials come from the url's userinfo or STRONGROOM_SEARCH_USERNAME /
    STRONGROOM_SEARCH_PASSWORD.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown option(s) for {kind} search: {', '.join(unknown)}. Known options: {', '.join(OPTIONS)}."
        )
    url = options.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"{_NAMES.get(kind, kind)} search needs a 'url' option: the cluster's address, e.g. "
            f'[search] url = "{kind}+http://localhost:9200".'
        )
    timeout = options.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"The {kind} search option 'timeout' must be a number of seconds above 0.")
    ca_certs = options.get("ca_certs")
    if ca_certs is not None:
        if not isinstance(ca_certs, str) or not Path(ca_certs).expanduser().is_file():
            raise ConfigError(
                f"The {kind} search option 'ca_certs' must name a PEM file of the certificates to trust, "
                f"not {ca_certs!r} (no such file)."
            )
        ca_certs = str(Path(ca_certs).expanduser())
    return ElasticSearchIndex(
        kind,
        url,
        index=check_prefix(options.get("index", "strongroom")),
        username=os.environ.get("STRONGROOM_SEARCH_USERNAME") or None,
        password=os.environ.get("STRONGROOM_SEARCH_PASSWORD") or None,
        ca_certs=ca_certs,
        timeout=float(timeout),
    )


@dataclass(frozen=True)
class _Prepared:
    """One document ready for a bulk request: its two NDJSON lines and a name for messages."""

    id: str
    source: bytes
    where: str


class ElasticSearchIndex:
    """SearchIndex on an Elasticsearch or OpenSearch cluster; see the module docstring."""

    def __init__(
        self,
        kind: str,
        url: str,
        *,
        index: str = "strongroom",
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | None = None,
        timeout: float = 30.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        chunk_documents: int = CHUNK_DOCUMENTS,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.name = kind
        self.alias = check_prefix(index)
        self._server = _NAMES.get(kind, kind)
        self._client = ClusterClient(kind, cluster_address(url, username, password), ca_certs=ca_certs, timeout=timeout)
        self.url = self._client.url
        self._retry_delays = tuple(retry_delays)
        self._chunk_documents = max(1, chunk_documents)
        self._chunk_bytes = max(1, chunk_bytes)
        try:
            self._probe()
            self._ensure_live()
        except BaseException:
            self._client.close()
            raise

    def __repr__(self) -> str:
        return f"ElasticSearchIndex({self.name!r}, {self.url!r}, index={self.alias!r})"

    def __enter__(self) -> ElasticSearchIndex:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- the SearchIndex protocol ---------------------------------------------------------

    def index(self, documents: Iterable[SearchDocument]) -> int:
        """Add or replace documents in the live index; they are searchable when this returns."""
        return self._index_into(self.alias, documents)

    def delete_package(self, package: str) -> None:
        self._delete_where({"term": {"package": package}}, "remove a package")

    def purge_package(self, package: str) -> None:
        """Delete the package's documents, then merge them out of the segments and the translog (disposal)."""
        self._delete_where({"term": {"package": package}}, "purge a package")
        for target in self.live_indices():
            # A deleted document stays in its segment (and the translog) until merged away and flushed.
            self._request("merge deleted documents away", self._client.expunge_deletes, target)

    def search(self, query: SearchQuery) -> SearchResults:
        checked = check_query(query)
        answer = self._request("search", self._client.search, self.alias, request_body(query, checked))
        return results_of(answer, query, checked)

    def packages(self) -> set[str]:
        """Every package with a document, page by page (a composite aggregation has no 10,000 limit)."""
        found: set[str] = set()
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": [{"package": {"terms": {"field": "package"}}}]}
            if after is not None:
                composite["after"] = after
            body = {"size": 0, "track_total_hits": False, "aggs": {"packages": {"composite": composite}}}
            answer = self._request("list packages", self._client.search, self.alias, body)
            result = answer["aggregations"]["packages"]
            found.update(str(bucket["key"]["package"]) for bucket in result["buckets"])
            after = result.get("after_key")
            if not result["buckets"] or after is None:
                return found

    def is_empty(self) -> bool:
        """One count request: every write command asks this, so it must not page through the packages."""
        answer = self._request("count documents", self._client.search, self.alias,
                               {"size": 0, "track_total_hits": 1, "terminate_after": 1})  # fmt: skip
        return int(answer["hits"]["total"]["value"]) == 0

    def clear(self) -> None:
        """Empty the live index: an empty one takes its place (quicker than deleting every document)."""
        fresh = self._create_index()
        self._swap_to(fresh)

    def start_rebuild(self) -> ElasticRebuild:
        return ElasticRebuild(self, self._create_index())

    def close(self) -> None:
        self._client.close()

    # --- the live index and the alias -----------------------------------------------------

    def live_indices(self) -> list[str]:
        """The indices the alias points at (one, unless someone else is mid-way creating it)."""
        return self._request("read the index alias", self._client.alias_targets, self.alias)

    def _probe(self) -> None:
        try:
            self._client.health(_PROBE_TIMEOUT)
        except ClusterFailure as failure:
            raise self._failure("connect to the search server", failure) from None

    def _ensure_live(self) -> None:
        """Make the alias and its first index when there are none; replace an index of an older mapping."""
        targets = self.live_indices()
        if not targets:
            if self._request("look for the index", self._client.index_exists, self.alias):
                raise SearchError(
                    f"The {self._server} cluster at {self.url} has an index named {self.alias!r} that is not "
                    'Strongroom\'s alias. Choose another name with the [search] option index = "...", or delete '
                    "that index."
                )
            self._create_first()
            return
        versions = {name: mapping_version_of(name, self.alias) for name in targets}
        strangers = [name for name, version in versions.items() if version is None]
        if strangers:
            raise SearchError(
                f"The alias {self.alias!r} on {self.url} points at {strangers[0]!r}, which Strongroom did not make. "
                'Choose another name with the [search] option index = "...", or move the alias away.'
            )
        newest = max(version or 0 for version in versions.values())
        if newest > MAPPING_VERSION:
            raise SearchError(
                f"The search index {self.alias!r} on {self.url} was made by a newer version of Strongroom (mapping "
                f"{newest}, this one knows {MAPPING_VERSION}). Upgrade Strongroom, or use another index name."
            )
        if newest < MAPPING_VERSION:
            # Derived data: not converted but replaced, empty; packages() then lists none of the
            # packages, which is how the archive sees what to index again (`strongroom rebuild`).
            self._swap_to(self._create_index())

    def _create_first(self) -> None:
        name = self._create_index(with_alias=True)
        # Two processes starting at once may each have made one: the first name stays, the other goes.
        targets = self.live_indices()
        if len(targets) > 1 and name != targets[0]:
            self._request(
                "create the index alias",
                self._client.update_aliases,
                [{"remove": {"index": name, "alias": self.alias}}],
            )
            self._drop_index(name)

    def _create_index(self, *, with_alias: bool = False) -> str:
        name = versioned_name(self.alias)
        body = index_body()
        if with_alias:
            body["aliases"] = {self.alias: {}}  # in the same request: one cluster-state change, not two
        self._request("create an index", self._client.create_index, name, body)
        return name

    def _swap_to(self, new: str) -> None:
        """Point the alias at `new` alone, in one atomic `_aliases` call, then delete the old indices."""
        for name in self._point_alias_at(new):
            self._drop_index(name)

    def _point_alias_at(self, new: str) -> list[str]:
        """Point the alias at `new` alone, in one atomic `_aliases` call; the indices it left, to delete."""
        old = [name for name in self.live_indices() if name != new]
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in old]
        actions.append({"add": {"index": new, "alias": self.alias}})
        self._request("swap the index alias", self._client.update_aliases, actions)
        return old

    def _drop_index(self, name: str) -> None:
        self._request("delete an index", self._client.delete_index, name)

    # --- writing --------------------------------------------------------------------------

    def _index_into(self, target: str, documents: Iterable[SearchDocument], *, refresh: bool = True) -> int:
        count = 0
        for chunk in self._chunks(documents):
            self._bulk(target, chunk)
            count += len(chunk)
        if count and refresh:
            self._request("refresh the index", self._client.refresh, target)
        return count

    def _chunks(self, documents: Iterable[SearchDocument]) -> Iterator[list[_Prepared]]:
        chunk: list[_Prepared] = []
        size = 0
        for document in documents:
            source = json.dumps(source_of(document), ensure_ascii=False, separators=(",", ":")).encode()
            prepared = _Prepared(
                document_id(document.package, document.path, document.masked),
                source,
                f"{document.package}/{document.path or ''}",
            )
            if chunk and (len(chunk) >= self._chunk_documents or size + len(source) > self._chunk_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(prepared)
            size += len(source)
        if chunk:
            yield chunk

    def _bulk(self, target: str, chunk: list[_Prepared]) -> None:
        """Write one chunk; items the cluster was too busy for are sent again, the rest never twice."""
        pending = chunk
        for attempt in range(len(self._retry_delays) + 1):
            lines = b"".join(
                json.dumps({"index": {"_index": target, "_id": item.id}}).encode() + b"\n" + item.source + b"\n"
                for item in pending
            )
            try:
                answer = self._client.bulk(lines)
            except ClusterFailure as failure:
                if failure.retryable and attempt < len(self._retry_delays):
                    time.sleep(self._retry_delays[attempt])
                    continue
                raise self._failure("add documents", failure, attempts=attempt + 1) from None
            if not answer.get("errors"):
                return
            busy: list[_Prepared] = []
            for item, result in zip(pending, answer["items"], strict=True):
                outcome = result.get("index", {})
                status = int(outcome.get("status", 500))
                if status < 300:
                    continue
                if status in RETRYABLE:
                    busy.append(item)
                    continue
                error = outcome.get("error", {})
                reason = (
                    f"{error.get('type', 'error')}: {error.get('reason', '')}" if isinstance(error, dict) else error
                )
                raise SearchError(f"The {self._server} cluster at {self.url} refused document {item.where}: {reason}.")
            if not busy:
                return
            pending = busy
            if attempt < len(self._retry_delays):
                time.sleep(self._retry_delays[attempt])
        raise SearchError(
            f"The {self._server} cluster at {self.url} stayed too busy to take {len(pending)} document(s) after "
            f"{len(self._retry_delays) + 1} attempts. Try again later, or give the cluster more capacity."
        )

    def _delete_where(self, query: dict[str, Any], action: str) -> None:
        # Search, then delete by id: _delete_by_query belongs to the reindex module, which
        # Elasticsearch's integ-test build lacks.
        while True:
            body = {"query": query, "size": 5000, "_source": False, "track_total_hits": False}
            answer = self._request(action, self._client.search, self.alias, body)
            hits = answer["hits"]["hits"]
            if not hits:
                return
            lines = b"".join(
                json.dumps({"delete": {"_index": hit["_index"], "_id": hit["_id"]}}).encode() + b"\n" for hit in hits
            )
            result = self._request(action, self._client.bulk, lines)
            for item in result.get("items", []):
                status = int(item.get("delete", {}).get("status", 200))
                if status >= 300 and status != 404:
                    raise SearchError(f"Could not {action} in {self.url}: {item['delete'].get('error')}.")
            self._request("refresh the index", self._client.refresh, self.alias)

    # --- failures -------------------------------------------------------------------------

    def _request(self, action: str, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` with the retries a busy cluster deserves; SearchError saying what failed."""
        for attempt in range(len(self._retry_delays) + 1):
            try:
                return call(*args)
            except ClusterFailure as failure:
                if failure.retryable and failure.status is not None and attempt < len(self._retry_delays):
                    time.sleep(self._retry_delays[attempt])
                    continue
                raise self._failure(action, failure, attempts=attempt + 1) from None
        raise AssertionError("unreachable")

    def _failure(self, action: str, failure: ClusterFailure, *, attempts: int = 1) -> SearchError:
        tried = f" (tried {attempts} times)" if attempts > 1 else ""
        if failure.other_product:
            return SearchError(
                f"The server at {self.url} is not {self._server}: the {self._server} client refuses it.",
                details=['For OpenSearch, write [search] url = "opensearch+http://host:9200" (or +https).'],
            )
        if failure.status is None:
            return SearchError(
                f"Could not {action}: no answer from the {self._server} cluster at {self.url}{tried} "
                f"({failure.reason}).",
                details=[
                    "Check that the server runs and that [search] url (or STRONGROOM_SEARCH_URL) names it, "
                    "with the right scheme (http or https) and port.",
                    "For https with a private certificate authority, set the [search] option ca_certs.",
                ],
            )
        if failure.status in (401, 403):
            return SearchError(
                f"Could not {action}: the {self._server} cluster at {self.url} refused Strongroom "
                f"(HTTP {failure.status}: {failure.reason}).",
                details=[
                    "Give credentials in the url (https://user:password@host:9200) or in "
                    "STRONGROOM_SEARCH_USERNAME and STRONGROOM_SEARCH_PASSWORD, for a user allowed to manage "
                    f"the indices {self.alias}*."
                ],
            )
        return SearchError(
            f"Could not {action}: the {self._server} cluster at {self.url} answered HTTP {failure.status}{tried}, "
            f"{failure.reason}."
        )


class ElasticRebuild:
    """A new versioned index filled beside the live one; finish() swaps the alias to it."""

    def __init__(self, owner: ElasticSearchIndex, name: str) -> None:
        self._owner = owner
        self.index_name = name
        self._done = False

    def index(self, documents: Iterable[SearchDocument]) -> int:
        self._check_open()
        # No refresh per call (a rebuild calls once a package): nobody searches this index before finish().
        return self._owner._index_into(self.index_name, documents, refresh=False)

    def finish(self) -> None:
        """Make the new index the live one in one `_aliases` call and delete the old one."""
        self._check_open()
        owner = self._owner
        owner._request("refresh the index", owner._client.refresh, self.index_name)
        old = owner._point_alias_at(self.index_name)
        # Live from here: should deleting the old index fail, abandon() must not drop this one.
        self._done = True
        for name in old:
            owner._drop_index(name)

    def abandon(self) -> None:
        """Delete the new index; the live one is untouched."""
        if self._done:
            return
        self._done = True
        self._owner._drop_index(self.index_name)

    def _check_open(self) -> None:
        if self._done:
            raise SearchError("This rebuild has already been finished or abandoned; start another one.")
