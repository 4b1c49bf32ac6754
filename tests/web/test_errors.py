"""Errors the service did not expect: a plain page or JSON, no traceback, the security headers still on."""

from __future__ import annotations

from fastapi.testclient import TestClient

from strongroom.web.app import create_app
from strongroom.web.permissions import Permission, require
from tests.conftest import Home
from tests.web.conftest import BASE_URL


def test_an_unexpected_error_answers_500_without_a_traceback_and_with_security_headers(home: Home) -> None:
    app = create_app(home.path)

    def broken() -> None:
        raise RuntimeError("secret-internal-detail /srv/closed/file.pdf")

    app.add_api_route("/api/v1/broken", broken, dependencies=[require(Permission.ANYONE)])
    app.add_api_route("/broken", broken, dependencies=[require(Permission.ANYONE)])
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        for path in ("/api/v1/broken", "/broken"):
            answer = client.get(path)
            assert answer.status_code == 500
            assert "secret-internal-detail" not in answer.text and "Traceback" not in answer.text
            assert answer.headers["content-security-policy"].startswith("default-src 'self'")
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"
        assert client.get("/api/v1/broken").json()["error"] == "Something went wrong on our side."


def test_requests_run_on_as_many_threads_as_the_web_settings_say(home: Home) -> None:
    import anyio.to_thread

    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[web]\nrequest_threads = 3\n", encoding="utf-8")
    app = create_app(home.path)
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.portal is not None
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 3


def test_a_request_thread_count_below_one_is_refused_with_the_setting_named(home: Home) -> None:
    from strongroom.errors import ConfigError

    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[web]\nrequest_threads = 0\n", encoding="utf-8")
    try:
        create_app(home.path)
    except ConfigError as err:
        assert "request_threads" in err.message
    else:
        raise AssertionError("request_threads = 0 was accepted")
