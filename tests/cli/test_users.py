"""`strongroom user ...`: accounts from the command line, as an administrator at the server would use them."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from strongroom.accounts import audit, service
from strongroom.cli import app
from strongroom.web.settings import WebSettings, load_web_settings
from tests.conftest import CliResult, Home

PASSWORD = "correct horse battery staple 42"


class Result(CliResult):
    def json_any(self) -> Any:
        return self.json()


def run(home: Home, *args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(app, ["--home", str(home.path), *args], input=stdin, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def ok(home: Home, *args: str, stdin: str | None = None) -> Result:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code == 0, f"{args} failed ({result.exit_code}):\n{result.stdout}\n{result.stderr}"
    return result


def test_add_with_password_on_stdin_then_list(home: Home) -> None:
    added = run(home, "user", "add", "ann", "--role", "admin", "--full-name", "Ann <Admin>", "--password-stdin",
                "--json", stdin=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert added.json_any() == {**added.json_any(), "name": "ann", "role": "admin", "full_name": "Ann <Admin>"}
    assert "password" not in added.json_any()
    listed = ok(home, "user", "list", "--json").json_any()
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [("ann", "admin", False)]
    table = ok(home, "user", "list").stdout
    assert "ann" in table and "Ann <Admin>" in table and "admin" in table
    with home.archive() as archive:
        assert service.sign_in(archive, "ann", PASSWORD, "cli-test", _settings(home)).name == "ann"
        entry = next(e for e in audit.account_entries(archive) if e.event.type == audit.ACCOUNT_ADDED)
    assert any(a.identifier_value == "test-archivist" for a in entry.agents)  # the OS operator


def _settings(home: Home) -> WebSettings:
    return load_web_settings(home.path)


def test_generate_prints_a_strong_password_once(home: Home) -> None:
    added = ok(home, "user", "add", "bob", "--role", "researcher", "--generate")
    password = added.stdout.split("Password (shown once): ")[1].strip()
    assert len(password) == 24 and password.isalnum()
    as_json = ok(home, "user", "add", "cy", "--role", "archivist", "--generate", "--json").json_any()
    assert len(as_json["password"]) == 24
    with home.archive() as archive:
        assert service.sign_in(archive, "bob", password, "cli-test", _settings(home)).name == "bob"


def test_without_a_password_source_and_no_terminal_it_says_what_to_do(home: Home) -> None:
    answer = run(home, "user", "add", "dee", "--role", "researcher", stdin="")
    assert answer.exit_code == 2 and "--password-stdin" in answer.stderr
    both = run(home, "user", "add", "dee", "--role", "researcher", "--generate", "--password-stdin", stdin="x\n")
    assert both.exit_code == 2 and "not both" in both.stderr
    no_role = run(home, "user", "add", "dee", "--generate")
    assert no_role.exit_code == 2 and "--role" in no_role.stderr


def test_refusals_are_one_clear_message(home: Home) -> None:
    weak = run(home, "user", "add", "ann", "--role", "admin", "--password-stdin", stdin="short\n")
    assert weak.exit_code == 2 and "at least 12 characters" in weak.stderr and "Traceback" not in weak.stderr
    public = run(home, "user", "add", "ann", "--role", "public", "--generate", "--json")
    assert public.exit_code == 2 and "public" in public.stderr and '"hint"' in public.stderr
    ok(home, "user", "add", "ann", "--role", "admin", "--generate")
    last = run(home, "user", "role", "ann", "researcher")
    assert last.exit_code == 2 and "only enabled administrator" in last.stderr
    assert run(home, "user", "disable", "ann").exit_code == 2
    missing = run(home, "user", "disable", "nobody")
    assert missing.exit_code == 2 and "no account named 'nobody'" in missing.stderr


def test_role_disable_enable_password(home: Home) -> None:
    ok(home, "user", "add", "root", "--role", "admin", "--generate")
    ok(home, "user", "add", "ann", "--role", "archivist", "--generate")
    assert ok(home, "user", "role", "ANN", "records-manager", "--json").json_any()["role"] == "records-manager"
    assert "disabled" in ok(home, "user", "disable", "ann").stdout
    assert ok(home, "user", "list", "--json").json_any()[0]["disabled"] is True
    ok(home, "user", "enable", "ann")
    changed = run(home, "user", "password", "ann", "--password-stdin", stdin="a new long password 77\n")
    assert changed.exit_code == 0, changed.stderr
    with home.archive() as archive:
        assert service.sign_in(archive, "ann", "a new long password 77", "cli", _settings(home)).name == "ann"
        kinds = [e.event.type for e in audit.account_entries(archive)]
    assert kinds.count(audit.ROLE_CHANGED) == 1 and audit.DISABLED in kinds and audit.PASSWORD_CHANGED in kinds


def test_tokens_issue_list_revoke(home: Home) -> None:
    ok(home, "user", "add", "ann", "--role", "archivist", "--generate")
    issued = ok(home, "user", "token", "ann", "--label", "nightly <export>", "--expires-days", "7", "--json").json_any()
    secret = issued["secret"]
    assert secret.startswith(f"sr_{issued['id']}_") and issued["state"] == "active"
    plain = ok(home, "user", "token", "ann", "--label", "second")
    assert plain.stdout.strip().splitlines()[-1].startswith("sr_")
    listed = ok(home, "user", "tokens", "--json").json_any()
    assert len(listed) == 2 and all("secret" not in t for t in listed)
    assert secret not in ok(home, "user", "tokens").stdout
    assert len(ok(home, "user", "tokens", "ann", "--json").json_any()) == 2
    ok(home, "user", "revoke", issued["id"])
    states = {t["id"]: t["state"] for t in ok(home, "user", "tokens", "--json").json_any()}
    assert states[issued["id"]] == "revoked"
    with home.archive() as archive:
        assert service.list_tokens(archive, "ann")
    missing = run(home, "user", "revoke", "no-such")
    assert missing.exit_code == 2 and "no API token" in missing.stderr
    no_label = run(home, "user", "token", "ann")
    assert no_label.exit_code == 2 and "label" in no_label.stderr


def test_on_a_terminal_the_password_is_asked_twice_hidden(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("strongroom.cli_users._is_terminal", lambda: True)
    mismatch = run(home, "user", "add", "eve", "--role", "researcher", stdin=f"{PASSWORD}\nsomething else 123\n")
    assert mismatch.exit_code != 0 and "do not match" in (mismatch.stdout + mismatch.stderr).lower()
    typed = run(home, "user", "add", "eve", "--role", "researcher", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert typed.exit_code == 0, typed.stderr
    assert PASSWORD not in typed.stdout  # hidden input is not echoed
    with home.archive() as archive:
        assert service.sign_in(archive, "eve", PASSWORD, "cli", _settings(home)).name == "eve"
