"""schemathesis fuzzes every operation of the OpenAPI document, as the administrator and as the public.

Checks: no 5xx answer, and the response conforms to the operation's documented schema and content type. The
run is bounded (a few examples per operation, a fixed seed through derandomize) so it takes well under a
minute. The app is the real one over a real archive (the bundled sample transfer stored in it), called over
ASGI in process; one archive serves the whole module, so what one operation creates the next may meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.core.result import Err

from strongroom.accounts.model import UserRole
from tests.conftest import EXAMPLE_TRANSFER, Home
from tests.web.conftest import BASE_URL, Web

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]
EXAMPLES = 6  # per operation and role: enough to reach every parameter's edge cases without a long run
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Operations left out, and why: revoking tokens (the fuzzer would revoke the very token it signs with) and
# editing accounts (it could disable the administrator it acts as), which then turns every later answer into
# a 401 and proves nothing. Their handlers meet hostile input in tests/web's own tests.
EXCLUDED = {
    ("DELETE", "/api/v1/account/tokens/{token_id}"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("PATCH", "/api/v1/users/{name}"),
}


@pytest.fixture(scope="module")
def fuzz_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    from strongroom.web.app import create_app

    env = {"STRONGROOM_WORKERS": "2", "STRONGROOM_OPERATOR": "test-archivist", "STRONGROOM_CHARACTERISE": "0",
           "STRONGROOM_VIRUS_SCAN": "off", "STRONGROOM_EXTRACT_TEXT": "0"}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("STRONGROOM_CATALOG_URL", raising=False)
        home = Home(tmp_path_factory.mktemp("fuzz") / "home")
        home.ok("init", "--organisation", 'Fuzz <Archive> & "Co"', "--organisation-id", "FUZZ")
        home.ingest(EXAMPLE_TRANSFER)
        app = create_app(home.path)
        with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
            yield Web(home, app, client)


@pytest.fixture(scope="module")
def operations(fuzz_web: Web) -> list[Operation]:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_web.app)
    found: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"schemathesis cannot read an operation of the document: {result.err()}")
        found.append(result.ok())
    assert len(found) >= 2, "the OpenAPI document lists next to no operation"
    return found


def fuzz(operations: list[Operation], web: Web, role: UserRole) -> None:
    """Runs every operation's examples; collects each operation's first failure and fails once, naming them all.

    Driven through schemathesis's Python API and Hypothesis directly (schemathesis's pytest plugin does not
    load a schema from a fixture under this pytest): bounded and repeatable, a few examples per operation,
    the same every run (derandomize), no example database carried between runs."""
    headers = {**web.api_headers(role), "Accept": "application/json"}
    failures: list[str] = []
    ran = 0
    for operation in operations:
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
        def run(case: Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        ran += 1
        try:
            run()
        # Each operation's failure is kept and all are reported together below (schemathesis raises a
        # BaseExceptionGroup when it finds several).
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{str(exc)[:1500]}")
    assert ran >= len(operations) - len(EXCLUDED)
    assert not failures, f"{len(failures)} of {ran} operations fail as {role.value}:\n\n" + "\n\n".join(failures)


def test_api_as_the_administrator_never_fails_and_answers_as_documented(
    operations: list[Operation], fuzz_web: Web
) -> None:
    fuzz(operations, fuzz_web, UserRole.ADMIN)


def test_api_as_the_public_never_fails_and_answers_as_documented(operations: list[Operation], fuzz_web: Web) -> None:
    fuzz(operations, fuzz_web, UserRole.PUBLIC)


def test_the_document_is_openapi_3_1_with_every_api_route_and_no_page(fuzz_web: Web) -> None:
    document = fuzz_web.client.get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert "/api/v1/health" in paths and "/api/v1/search" in paths
    assert all(path.startswith("/api/v1/") for path in paths), [p for p in paths if not p.startswith("/api/v1/")]


# The health check, declared in app.py with no model, which anyone may call and which takes nothing to refuse.
UNDECLARED: set[tuple[str, str]] = set()


def test_every_operation_declares_its_success_schema_and_the_shared_error_answers(fuzz_web: Web) -> None:
    """So that response_schema_conformance above checks something: an empty schema accepts any answer."""
    document = fuzz_web.client.get("/api/openapi.json").json()
    error = document["components"]["schemas"]["ErrorAnswer"]
    assert error["required"] == ["error", "hint"] and error["properties"]["hint"]["type"] == "array"
    missing: list[str] = []
    ids: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            answers = operation["responses"]
            where = f"{method.upper()} {path}"
            if (method.upper(), path) in UNDECLARED:
                continue
            for status in ("400", "401", "403", "404", "422", "429"):
                schema = answers.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": "#/components/schemas/ErrorAnswer"}:
                    missing.append(f"{where}: {status} is not the shared error answer ({schema})")
            for status, answer in answers.items():
                if not status.startswith("2"):
                    continue
                for media, content in answer.get("content", {}).items():
                    schema = content.get("schema")
                    if media == "application/json" and not schema:
                        missing.append(f"{where}: {status} {media} has no schema")
    assert not missing, "\n".join(missing)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    download = document["paths"]["/api/v1/packages/{ref}/download/{path}"]
    assert download["get"]["operationId"] != download["head"]["operationId"]
    uploads = document["paths"]["/api/v1/uploads/{upload_id}"]["put"]["responses"]
    assert {"409", "413"} <= set(uploads), "an upload's conflict and size answers are documented"
