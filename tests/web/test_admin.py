"""Administration pages and API: accounts, roles, tokens, settings with secrets masked, doctor."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from strongroom.accounts import audit, service
from strongroom.accounts.model import UserRole
from strongroom.web.routes_admin import MASK, masked_settings
from tests.web.conftest import PASSWORD, BrowserClient, Web

HOSTILE = "<script>alert('x')</script> \" & ../≠"


@pytest.fixture
def admin(web: Web) -> BrowserClient:
    return web.browser(UserRole.ADMIN)


def test_adding_an_account_on_the_users_page_with_a_generated_password(web: Web, admin: BrowserClient) -> None:
    page = admin.get("/admin/users")
    assert page.status_code == 200 and '<label class="govuk-label" for="new-name">' in page.text
    added = admin.post("/admin/users", {"name": HOSTILE, "role": "records-manager", "full_name": "<b>Bo</b>"})
    assert added.status_code == 201
    assert "<script>alert" not in added.text and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in added.text
    assert "&lt;b&gt;Bo&lt;/b&gt;" in added.text
    generated = added.text.split('<code class="strongroom-secret">')[1].split("<")[0]
    assert len(generated) == 24
    assert f'href="/admin/users/{quote(HOSTILE, safe="")}"' in added.text.replace("&#39;", "'").replace("&amp;", "&")
    signed_in = web.browser(UserRole.PUBLIC)
    signed_in.sign_in(HOSTILE, generated)
    assert signed_in.get("/records").status_code != 403  # records managers may open the records area


def test_refusals_on_the_users_page_say_why_and_keep_what_was_typed(admin: BrowserClient) -> None:
    weak = admin.post("/admin/users", {"name": "newbie", "role": "researcher", "password": "short"})
    assert weak.status_code == 400 and "at least 12 characters" in weak.text and 'value="newbie"' in weak.text
    assert 'href="#new-password"' in weak.text
    bad_role = admin.post("/admin/users", {"name": "newbie", "role": "public", "password": PASSWORD})
    assert bad_role.status_code == 400 and "public" in bad_role.text
    admin.post("/admin/users", {"name": "newbie", "role": "researcher", "password": PASSWORD})
    twice = admin.post("/admin/users", {"name": "NEWBIE", "role": "researcher", "password": PASSWORD})
    assert twice.status_code == 400 and "already exists" in twice.text


def test_role_disable_enable_and_password_from_the_user_page(web: Web, admin: BrowserClient) -> None:
    web.account(HOSTILE, UserRole.ARCHIVIST)
    theirs = web.browser(UserRole.ARCHIVIST, name=HOSTILE)
    page = admin.get(f"/admin/users/{quote(HOSTILE, safe='')}")
    assert page.status_code == 200 and "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    role = admin.post("/admin/users-role", {"name": HOSTILE, "role": "researcher"})
    assert role.status_code == 303 and role.headers["location"].startswith(f"/admin/users/{quote(HOSTILE, safe='')}")
    assert theirs.get("/account").status_code == 303  # signed out by the change
    theirs = web.browser(UserRole.RESEARCHER, name=HOSTILE)
    assert admin.post("/admin/users-access", {"name": HOSTILE, "action": "disable"}).status_code == 303
    assert theirs.get("/account").status_code == 303
    assert admin.post("/admin/users-access", {"name": HOSTILE, "action": "enable"}).status_code == 303
    reset = admin.post("/admin/users-password", {"name": HOSTILE})
    assert reset.status_code == 200 and "The new password is" in reset.text
    new = reset.text.split('<code class="strongroom-secret">')[1].split("<")[0]
    web.browser(UserRole.PUBLIC).sign_in(HOSTILE, new)
    with web.home.archive() as archive:
        user = service.find_user(archive, HOSTILE)
        kinds = [e.event.type for e in audit.account_entries(archive)]
    assert user is not None and user.role is UserRole.RESEARCHER and not user.disabled
    for kind in (audit.ROLE_CHANGED, audit.DISABLED, audit.ENABLED, audit.PASSWORD_CHANGED):
        assert kind in kinds


def test_the_last_admin_cannot_be_demoted_or_disabled_from_the_page_or_api(web: Web, admin: BrowserClient) -> None:
    me = web.user_of(UserRole.ADMIN)
    demote = admin.post("/admin/users-role", {"name": me, "role": "archivist"})
    assert demote.status_code == 400 and "only enabled administrator" in demote.text
    disable = admin.post("/admin/users-access", {"name": me, "action": "disable"})
    assert disable.status_code == 400 and "only enabled administrator" in disable.text
    api = web.client.patch(f"/api/v1/users/{me}", json={"disabled": True}, headers=web.api_headers(UserRole.ADMIN))
    assert api.status_code == 400 and "only enabled administrator" in api.json()["error"]
    assert admin.get("/admin").status_code == 200


def test_unknown_users_are_404_on_pages_and_api(web: Web, admin: BrowserClient) -> None:
    assert admin.get("/admin/users/no-such").status_code == 404
    assert admin.post("/admin/users-role", {"name": "no-such", "role": "admin"}).status_code == 404
    answer = web.client.get("/api/v1/users/no-such", headers=web.api_headers(UserRole.ADMIN))
    assert answer.status_code == 404 and set(answer.json()) == {"error", "hint"}


def test_users_api_add_read_change(web: Web) -> None:
    headers = web.api_headers(UserRole.ADMIN)
    made = web.client.post("/api/v1/users", json={"name": "a/b ≠", "role": "archivist"}, headers=headers)
    assert made.status_code == 201 and len(made.json()["password"]) == 24 and made.json()["role"] == "archivist"
    one = web.client.get(f"/api/v1/users/{quote('a/b ≠', safe='')}", headers=headers)
    assert one.status_code == 200 and one.json()["name"] == "a/b ≠" and one.json()["tokens"] == []
    weak = web.client.patch("/api/v1/users/a/b ≠", json={"role": "researcher", "password": "short"}, headers=headers)
    assert weak.status_code == 400 and "at least 12" in weak.json()["error"]
    unchanged = web.client.get("/api/v1/users/a/b ≠", headers=headers).json()
    assert unchanged["role"] == "archivist"  # a weak password changes nothing at all
    changed = web.client.patch("/api/v1/users/a/b ≠", json={"role": "researcher", "generate_password": True},
                               headers=headers)  # fmt: skip
    assert changed.status_code == 200 and changed.json()["role"] == "researcher" and changed.json()["password"]
    listed = web.client.get("/api/v1/users", headers=headers).json()["users"]
    assert {u["name"] for u in listed} >= {"a/b ≠", web.user_of(UserRole.ADMIN)}
    assert all("password_hash" not in u and "password" not in u for u in listed)
    refused = web.client.post("/api/v1/users", json={"name": "x", "role": "public"}, headers=headers)
    assert refused.status_code == 400


def test_every_token_listed_and_revocable_by_the_admin(web: Web, admin: BrowserClient) -> None:
    web.account(HOSTILE, UserRole.ARCHIVIST)
    with web.home.archive() as archive:
        issued = service.issue_token(archive, HOSTILE, "<i>label</i>", "t")
    page = admin.get("/admin/tokens")
    assert issued.token.id in page.text and "&lt;i&gt;label&lt;/i&gt;" in page.text and issued.secret not in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert admin.post(f"/admin/tokens/{issued.token.id}/revoke").status_code == 303
    assert web.client.get("/api/v1/account", headers={"Authorization": f"Bearer {issued.secret}"}).status_code == 401
    headers = web.api_headers(UserRole.ADMIN)
    listed = web.client.get("/api/v1/tokens", headers=headers).json()["tokens"]
    mine = [t for t in listed if t["id"] == issued.token.id]
    assert mine[0]["state"] == "revoked" and mine[0]["user"] == HOSTILE and "digest" not in mine[0]
    other = web.api_headers(UserRole.ARCHIVIST)
    their_id = web.client.get("/api/v1/account/tokens", headers=other).json()["tokens"][0]["id"]
    assert web.client.delete(f"/api/v1/tokens/{their_id}", headers=headers).json()["state"] == "revoked"
    assert web.client.get("/api/v1/account", headers=other).status_code == 401
    assert web.client.delete("/api/v1/tokens/no-such", headers=headers).status_code == 404


def test_settings_are_shown_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / "strongroom.toml").write_text(
        '[archive]\nname = "<b>Archive</b>"\n'
        '[catalog]\nurl = "postgresql://strongroom:hunter2@db.example:5432/sr?sslpassword=also-secret"\n'
        '[[locations]]\nname = "offsite"\nsecret_access_key = "AKIA-very-secret"\n'
        'endpoint = "https://minio.example"\npassword = "pw"\n[web]\nupload_limit = "1 GiB"\n',
        encoding="utf-8",
    )  # fmt: skip
    rows = {(r.table, r.key): r.value for r in masked_settings(tmp_path)}
    assert rows[("catalog", "url")] == f"postgresql://strongroom:{MASK}@db.example:5432/sr?{MASK}"
    assert rows[("locations[1]", "secret_access_key")] == MASK and rows[("locations[1]", "password")] == MASK
    assert rows[("locations[1]", "endpoint")] == "https://minio.example"
    assert rows[("web", "upload_limit")] == "1 GiB" and rows[("archive", "name")] == "<b>Archive</b>"
    text = repr(rows)
    assert "hunter2" not in text and "AKIA" not in text and "also-secret" not in text


def test_the_settings_page_and_doctor(web: Web, admin: BrowserClient, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = admin.get("/admin/settings")
    assert settings.status_code == 200 and "Session length (hours)" in settings.text
    assert "strongroom.toml" in settings.text
    doctor = admin.get("/admin/doctor")
    assert doctor.status_code == 200 and "<caption" in doctor.text and "Format signatures in use" in doctor.text
    answer = web.client.get("/api/v1/doctor", headers=web.api_headers(UserRole.ADMIN)).json()
    assert {"tools", "signatures", "tools_dir"} <= set(answer)
    assert {t["name"] for t in answer["tools"]} >= {"jhove", "verapdf"}
    for tool in answer["tools"]:
        assert tool["name"] in doctor.text
