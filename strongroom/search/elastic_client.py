"""The thin adapter between the Elasticsearch/OpenSearch backend and the official clients.

Elasticsearch and OpenSearch speak nearly the same REST API, but each has its own client:
the `elasticsearch` 8 client refuses OpenSearch (it asks for `compatible-with=8` media
types), and `opensearch-py` is the one OpenSearch supports. `ClusterClient` hides which
one is in use behind the few calls the backend makes, and turns every client failure into
one exception, `ClusterFailure`, with the HTTP status when there was one, so the backend
decides about retries and messages once.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strongroom.errors import ConfigError

KINDS = ("elasticsearch", "opensearch")
# The status codes and failures worth another try: the cluster is busy or a node is moving.
RETRYABLE = frozenset({429, 502, 503, 504})

T = TypeVar("T")


class ClusterFailure(Exception):
    """A request failed: `status` is the HTTP status, or None when no answer came (refused, timed out)."""

    def __init__(self, status: int | None, reason: str, *, other_product: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.other_product = other_product  # the server is not the kind the client speaks to

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in RETRYABLE


@dataclass(frozen=True)
class ClusterAddress:
    """Where the cluster is: `url` without credentials (safe to show), and the credentials apart."""

    url: str
    username: str | None = None
    password: str | None = None


def cluster_address(url: str, username: str | None, password: str | None) -> ClusterAddress:
    """Split `url` (http(s)://[user:password@]host[:port][/path]) into a shown URL and credentials.

    Credentials in the URL win over those given apart (from the environment).
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("The search option 'url' must be the cluster's address, e.g. http://localhost:9200.")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The search url {_without_password(url)!r} is not an http:// or https:// address of a cluster.",
            details=["Write it as http://host:9200 (or https://...; credentials as https://user:password@host)."],
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"The search url {_without_password(url)!r} has an invalid port.") from None
    if parts.username is not None:
        username = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    shown = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return ClusterAddress(shown, username or None, password if username else None)


def _without_password(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        return url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        return "<unreadable url>"


class ClusterClient:
    """The calls the search backend makes, on whichever official client `kind` needs."""

    def __init__(
        self, kind: str, address: ClusterAddress, *, ca_certs: str | None = None, timeout: float = 30.0
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"Unknown search server kind {kind!r}; use one of: {', '.join(KINDS)}.")
        self.kind = kind
        self.url = address.url
        auth = (address.username, address.password or "") if address.username else None
        tls: dict[str, Any] = {"ca_certs": ca_certs, "verify_certs": True} if ca_certs else {}
        # The backend retries bulk writes itself (with backoff, item by item); the clients only retry a
        # request that got no answer, once, so an unreachable cluster is reported quickly.
        self._client: Any
        if kind == "elasticsearch":
            from elasticsearch import Elasticsearch

            self._client = Elasticsearch(
                address.url,
                basic_auth=auth,
                request_timeout=timeout,
                max_retries=1,
                retry_on_status=(),
                retry_on_timeout=False,
                **tls,
            )
            self._errors = _elasticsearch_errors()
            from elasticsearch import UnsupportedProductError

            self._other_product: type[Exception] = UnsupportedProductError
        else:
            from opensearchpy import OpenSearch

            self._client = OpenSearch(
                [address.url],
                http_auth=auth,
                timeout=timeout,
                max_retries=1,
                retry_on_status=(),
                retry_on_timeout=False,
                **tls,
            )
            self._errors = _opensearch_errors()
            self._other_product = _Never
        # opensearch-py logs every 404 as a warning (shown on a terminal) unless told one is expected.
        self._missing_ok: dict[str, Any] = {"ignore": 404} if kind == "opensearch" else {}

    def close(self) -> None:
        self._client.close()

    # --- the calls ----------------------------------------------------------------------

    def health(self, timeout: float) -> dict[str, Any]:
        # GET / is missing on Elasticsearch's integ-test build; cluster health exists everywhere.
        if self.kind == "elasticsearch":
            return self._call(lambda: self._client.options(request_timeout=timeout).cluster.health())
        return self._call(lambda: self._client.cluster.health(params={"request_timeout": timeout}))

    def alias_targets(self, alias: str) -> list[str]:
        """The indices `alias` points at (sorted); [] when there is no such alias."""
        try:
            answer = self._call(lambda: self._client.indices.get_alias(name=alias, **self._missing_ok))
        except ClusterFailure as failure:
            if failure.status == 404:
                return []
            raise
        if answer.get("status") == 404 and set(answer) <= {"error", "status"}:  # opensearch-py, told to let 404 be
            return []
        return sorted(answer)

    def index_exists(self, name: str) -> bool:
        return bool(self._call(lambda: {"exists": bool(self._client.indices.exists(index=name))})["exists"])

    def create_index(self, name: str, body: Mapping[str, Any]) -> None:
        self._call(lambda: self._client.indices.create(index=name, body=dict(body)))

    def delete_index(self, name: str) -> None:
        try:
            self._call(lambda: self._client.indices.delete(index=name, **self._missing_ok))
        except ClusterFailure as failure:
            if failure.status != 404:
                raise

    def update_aliases(self, actions: Sequence[Mapping[str, Any]]) -> None:
        """Apply alias actions in one request: the cluster applies them all at once or none."""
        self._call(lambda: self._client.indices.update_aliases(body={"actions": list(actions)}))

    def refresh(self, index: str) -> None:
        self._call(lambda: self._client.indices.refresh(index=index))

    def expunge_deletes(self, index: str) -> None:
        """Merge away the segments' deleted documents and flush the translog, so no deleted text stays."""
        if self.kind == "elasticsearch":
            self._call(lambda: self._client.indices.forcemerge(index=index, only_expunge_deletes=True))
        else:
            self._call(lambda: self._client.indices.forcemerge(index=index, params={"only_expunge_deletes": "true"}))
        self._call(lambda: self._client.indices.flush(index=index, wait_if_ongoing=True))

    def bulk(self, lines: bytes) -> dict[str, Any]:
        """Send a bulk request already written as NDJSON (each document is serialised once)."""
        if self.kind == "elasticsearch":
            return self._call(lambda: self._client.bulk(operations=lines))
        return self._call(lambda: self._client.bulk(body=lines))

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._call(lambda: self._client.search(index=index, body=dict(body)))

    # --- failures -----------------------------------------------------------------------

    def _call(self, request: Callable[[], Any]) -> dict[str, Any]:
        api_error, transport_error = self._errors
        try:
            answer = request()
        except self._other_product as error:
            raise ClusterFailure(None, str(error), other_product=True) from error
        except api_error as error:
            status = _status(error)  # None: opensearch-py's connection failures are TransportErrors too
            raise ClusterFailure(status, _no_answer_reason(error) if status is None else _reason(error)) from error
        except transport_error as error:
            raise ClusterFailure(None, _no_answer_reason(error)) from error
        # The Elasticsearch client wraps answers; both behave as the JSON mapping they carry.
        body: dict[str, Any] = getattr(answer, "body", answer)
        return body


class _Never(Exception):
    """Never raised: opensearch-py does not check which product answers."""


def _elasticsearch_errors() -> tuple[type[Exception], type[Exception]]:
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    return ApiError, TransportError


def _opensearch_errors() -> tuple[type[Exception], type[Exception]]:
    from opensearchpy.exceptions import OpenSearchException, TransportError

    # opensearch-py raises TransportError (with a status code) for HTTP errors too; a
    # connection failure is a TransportError whose status is "N/A".
    return TransportError, OpenSearchException


_OS_ERROR = re.compile(
    r"\[Errno -?\d+\] [^)'\"]+|timed out|Name or service not known|certificate verify failed[^)'\"]*"
)


def _no_answer_reason(error: Exception) -> str:
    """The heart of a client's nested connection message ("[Errno 111] Connection refused")."""
    text = str(error) or type(error).__name__
    found = _OS_ERROR.search(text)
    return found.group(0).strip() if found else text


def _status(error: Exception) -> int | None:
    meta = getattr(error, "meta", None)
    status = getattr(meta, "status", None) if meta is not None else getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _reason(error: Exception) -> str:
    body = getattr(error, "body", None)
    if body is None:
        body = getattr(error, "info", None)
    if isinstance(body, Mapping):
        detail = body.get("error")
        if isinstance(detail, Mapping):
            root = detail.get("root_cause")
            if isinstance(root, list) and root and isinstance(root[0], Mapping):
                detail = root[0]
            return f"{detail.get('type', 'error')}: {detail.get('reason', '')}".strip()
        if detail:
            return str(detail)
    return str(error) or type(error).__name__
