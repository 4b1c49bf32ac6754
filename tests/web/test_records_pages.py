"""Records managers' pages and API: the overview, schedules (upload and its errors), the due list and its CSV,
holds, a package's records view (retention, triggers, reviews, closure), and who may open them."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

import httpx
import pytest

from strongroom.accounts.model import UserRole
from strongroom.records.retention import assign
from strongroom.records.schedules import load_schedules
from strongroom.search.base import Role, SearchQuery
from strongroom.web.routes_records_forms import parse_day, references, safe_upload_name
from tests.conftest import Home, write
from tests.web.conftest import Web

RM = UserRole.RECORDS_MANAGER
HOSTILE = "<script>alert('x')</script> \" ' & < > ../ é 世界"
SCHEDULE_TOML = (
    '[[schedule]]\ncode = "LG-1"\ntitle = "Letters <b>bold</b> & more"\ndescription = "Letters"\n'
    'authority = "Local Government Act"\nperiod = "P1Y"\ntrigger = "creation"\naction = "destroy"\n'
)


# --- helpers shared by the records, disposal and journal page tests ------------------------------


def transfer(tmp_path: Path, name: str, title: str) -> tuple[Path, str]:
    """A small transfer whose title ends with a unique word (text extraction is off in tests); its DC date makes
    it due long ago."""
    token = "qz" + uuid.uuid4().hex[:12]
    source = tmp_path / "sources" / name
    write(source / "objects" / "letter.txt", f"Dear council, the word is {token}.\n")
    title_cell = '"' + f"{title} {token}".replace('"', '""') + '"'
    write(source / "metadata" / "metadata.csv",
          f"filename,dc.title,dc.identifier,dc.date\nobjects,{title_cell},TCA/{name},1999-03-04\n")  # fmt: skip
    return source, token


def due_packages(home: Home, tmp_path: Path, *names: str, title: str = HOSTILE) -> dict[str, str]:
    """Packages (name -> uuid) under schedule LG-1 (destroy one year after creation), so all due now."""
    found = {name: str(home.ingest(transfer(tmp_path, name, f"{title} {name}")[0])["package"]) for name in names}
    with home.archive() as archive:
        if archive.catalog.schedule("LG-1") is None:
            source = write(tmp_path / "lg-1.toml", SCHEDULE_TOML)
            load_schedules(archive, source, reason="test", operator="test")
        for package in found.values():
            assign(archive, package, "LG-1", reason="test", operator="test")
    return found


def h1_count(html: str) -> int:
    return len(re.findall(r"<h1[\s>]", html))


def error_summary(html: str) -> str:
    """The text of the page's GOV.UK error summary ("" when there is none)."""
    found = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.DOTALL)
    return re.sub(r"\s+", " ", found.group(0)) if found else ""


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html, "hostile text reached the page unescaped"


def journal_entries(home: Home) -> int:
    with home.archive() as archive:
        return sum(1 for _ in archive.journal.entries())


# --- small pieces --------------------------------------------------------------------------------


def test_form_helpers_read_what_people_type() -> None:
    assert references(" a b,c;\n a \r\n d ") == ["a", "b", "c", "d"]
    assert safe_upload_name("../../etc/<x>passwd.csv", "f") == "xpasswd.csv"
    assert safe_upload_name("C:\\Users\\ann\\..\\sched.toml", "f") == "sched.toml"
    assert safe_upload_name("...", "fallback") == "fallback"
    assert parse_day(" 2031-03-31 ", "a day", "x") is not None and parse_day("", "a day", "x") is None
    with pytest.raises(Exception, match="real date"):
        parse_day("31/03/2031", "the day", "as-of")


# --- pages ---------------------------------------------------------------------------------------


def test_every_records_page_renders_for_a_records_manager_with_hostile_text_escaped(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha")
    browser = web.browser(RM)
    for path in ("/records", "/records/schedules", "/records/due", "/records/holds", "/records/disposal",
                 f"/records/packages/{packages['alpha']}"):  # fmt: skip
        page = browser.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert h1_count(page.text) == 1, path
        assert_escaped(page.text)
    due = browser.get("/records/due").text
    assert "&lt;script&gt;alert(" in due and packages["alpha"] in due
    assert "Letters &lt;b&gt;bold&lt;/b&gt; &amp; more" in browser.get("/records/schedules").text
    overview = browser.get("/records").text
    assert "1 package(s) due for disposal or review" in overview


@pytest.mark.parametrize("role", [UserRole.RESEARCHER, UserRole.ARCHIVIST])
def test_other_roles_cannot_open_records_pages_or_api(web: Web, role: UserRole) -> None:
    browser = web.browser(role)
    assert browser.get("/records").status_code == 403
    assert browser.get("/records/due").status_code == 403
    assert web.client.get("/api/v1/records/due", headers=web.api_headers(role)).status_code == 403
    assert web.client.post("/api/v1/records/holds", headers=web.api_headers(role),
                           json={"type": "foi", "reason": "r", "packages": ["x"]}).status_code == 403  # fmt: skip


def test_a_schedule_file_with_problems_is_refused_whole_with_each_problem_named(web: Web) -> None:
    browser = web.browser(RM)
    bad = ("code,title,description,authority,period,trigger,action\n"
           "OK-1,Fine,d,Act,P2Y,creation,destroy\n"
           "BAD-1,<script>alert('t')</script>,d,Act,P6Y,creation,obliterate\n")  # fmt: skip
    page = browser.post("/records/schedules", files={"schedule_file": ("../../sched<x>.csv", bad.encode(), "text/csv")})
    assert page.status_code == 400
    summary = error_summary(page.text)
    assert "nothing was loaded" in summary and "line 3" in summary and "obliterate" in summary
    assert 'href="#schedule-file"' in summary
    assert_escaped(page.text)
    with web.home.archive() as archive:
        assert archive.catalog.schedules() == [], "a file with a problem loaded something"
    wrong = browser.post("/records/schedules", files={"schedule_file": ("notes.txt", b"x", "text/plain")})
    assert wrong.status_code == 400 and ".toml or a .csv" in error_summary(wrong.text)
    empty = browser.post("/records/schedules", data={"reason": "nothing chosen"})
    assert empty.status_code == 400 and "Choose a schedule file" in error_summary(empty.text)
    assert 'value="nothing chosen"' in empty.text  # what was typed is kept

    good = browser.post("/records/schedules", data={"reason": "Annual <review>"},
                        files={"schedule_file": ("lg.toml", SCHEDULE_TOML.encode(), "application/toml")})  # fmt: skip
    assert good.status_code == 303 and good.headers["location"] == "/records/schedules?done=loaded"
    again = browser.post("/records/schedules", files={"schedule_file": ("lg.toml", SCHEDULE_TOML.encode(), "x")})
    assert again.headers["location"] == "/records/schedules?done=unchanged"
    with web.home.archive() as archive:
        loaded = archive.catalog.schedules()
    assert [(s.code, s.version, s.reason) for s in loaded] == [("LG-1", 1, "Annual <review>")]


def test_the_schedules_api_loads_and_lists_as_the_cli_does(web: Web) -> None:
    headers = web.api_headers(RM)
    answer = web.client.post("/api/v1/records/schedules", headers=headers,
                             files={"file": ("lg.toml", SCHEDULE_TOML.encode(), "application/toml")})  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["loaded"] == [{"code": "LG-1", "version": 1, "changed": False}]
    listed = web.client.get("/api/v1/records/schedules", headers=headers).json()
    assert listed == web.home.ok("retention", "list", "--json").json()
    refused = web.client.post("/api/v1/records/schedules", headers=headers,
                              files={"file": ("x.csv", b"code,title\n", "text/csv")})  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] and isinstance(refused.json()["hint"], list)


def test_the_due_list_downloads_as_safe_csv_and_the_api_answers_as_the_cli(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha", title='=HYPERLINK("http://evil") <b>')
    browser = web.browser(RM)
    download = browser.get("/records/due.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["package"] for r in rows] == [packages["alpha"]]
    assert rows[0]["title"].startswith("'=HYPERLINK"), "a formula cell must be neutralised"
    headers = web.api_headers(RM)
    assert web.client.get("/api/v1/records/due", headers=headers).json() == \
        web.home.ok("retention", "due", "--json").json()  # fmt: skip
    as_csv = web.client.get("/api/v1/records/due?format=csv", headers=headers)
    assert as_csv.text == download.text
    assert web.client.get("/api/v1/records/due?as_of=1990-01-01", headers=headers).json()["due"] == []
    assert web.client.get("/api/v1/records/due?as_of=soon", headers=headers).status_code == 422
    bad = browser.get("/records/due?as_of=31%2F12%2F2030")
    assert bad.status_code == 400 and "real date" in error_summary(bad.text)
    assert 'value="31/12/2030"' in bad.text


def test_holds_are_placed_and_released_on_the_pages_and_shown_on_the_due_list(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha", "beta")
    browser = web.browser(RM)
    missing = browser.post("/records/holds", data={"type": "foi", "reason": "", "packages": packages["alpha"]})
    assert missing.status_code == 400 and "reason" in error_summary(missing.text).lower()
    both = browser.post("/records/holds", data={"type": "foi", "reason": "r", "packages": packages["alpha"],
                                                 "query": "council"})  # fmt: skip
    assert both.status_code == 400 and "not both" in error_summary(both.text)
    unknown = browser.post("/records/holds", data={"type": "whim", "reason": "r", "packages": packages["alpha"]})
    assert unknown.status_code == 400 and "not a type of hold" in error_summary(unknown.text)

    form = {"type": "eir", "reason": f"FOI request {HOSTILE}", "reference": "2026/<17>", "packages": packages["alpha"]}
    placed = browser.post("/records/holds", data=form)
    assert placed.status_code == 303
    hold_page = browser.get(placed.headers["location"])
    assert hold_page.status_code == 200 and "The hold was placed." in hold_page.text
    assert "2026/&lt;17&gt;" in hold_page.text and "FOI hold" in hold_page.text
    assert_escaped(hold_page.text)
    hold_id = placed.headers["location"].split("/")[-1].split("?")[0]
    with web.home.archive() as archive:
        assert archive.catalog.holds(package=packages["alpha"], active_only=True)[0].reason.endswith("世界")
    due = browser.get("/records/due").text
    assert f"/records/holds/{hold_id}" in due

    no_reason = browser.post(f"/records/holds/{hold_id}/release", data={"reason": " "})
    assert no_reason.status_code == 400 and error_summary(no_reason.text)
    released = browser.post(f"/records/holds/{hold_id}/release", data={"reason": "Request answered"})
    assert released.status_code == 303
    with web.home.archive() as archive:
        assert archive.catalog.holds(package=packages["alpha"], active_only=True) == []
    assert browser.get("/records/holds/nonsense-hold").status_code == 404


def test_the_holds_api_places_by_search_and_releases(web: Web, tmp_path: Path) -> None:
    source, token = transfer(tmp_path, "gamma", "Gamma letters")
    package = str(web.home.ingest(source)["package"])
    headers = web.api_headers(RM)
    placed = web.client.post("/api/v1/records/holds", headers=headers,
                             json={"type": "litigation", "reason": "Case 9", "query": token})  # fmt: skip
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["packages"] == [package] and body["type"] == "litigation"
    listed = web.client.get("/api/v1/records/holds", headers=headers).json()
    assert listed == web.home.ok("hold", "list", "--json").json()
    released = web.client.post(f"/api/v1/records/holds/{body['hold']}/release", headers=headers,
                               json={"reason": "settled"})  # fmt: skip
    assert released.status_code == 200 and released.json()["still_held"] == []
    again = web.client.post(f"/api/v1/records/holds/{body['hold']}/release", headers=headers, json={"reason": "x"})
    assert again.status_code in (400, 409) and again.json()["error"]


def test_a_package_records_page_assigns_records_triggers_and_reviews(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha")
    package = packages["alpha"]
    browser = web.browser(RM)
    base = f"/records/packages/{package}"
    unchanged = browser.post(f"{base}/retention", data={"code": "LG-1", "reason": "same"})
    assert unchanged.headers["location"] == f"{base}?done=unchanged-assignment"
    unknown = browser.post(f"{base}/retention", data={"code": "NOPE-9", "reason": "x"})
    assert unknown.status_code in (400, 404) and "NOPE-9" in error_summary(unknown.text)

    no_date = browser.post(f"{base}/triggers", data={"name": "closure", "date": "", "reason": ""})
    assert no_date.status_code == 400 and 'href="#trigger-date"' in error_summary(no_date.text)
    recorded = browser.post(f"{base}/triggers", data={"name": "closure", "date": "2001-02-03",
                                                       "reason": "File <closed>"})  # fmt: skip
    assert recorded.status_code == 303
    page = browser.get(base).text
    assert "2001-02-03" in page and "File &lt;closed&gt;" in page

    extend = browser.post(f"{base}/reviews", data={"decision": "extend", "reason": "Still needed", "extend_to": ""})
    assert extend.status_code == 400 and 'href="#review-extend-to"' in error_summary(extend.text)
    no_reason = browser.post(f"{base}/reviews", data={"decision": "retain", "reason": ""})
    assert no_reason.status_code == 400 and 'href="#review-reason"' in error_summary(no_reason.text)
    retained = browser.post(f"{base}/reviews", data={"decision": "retain", "reason": "Of lasting value"})
    assert retained.status_code == 303
    assert "never: retained permanently" in browser.get(base).text
    headers = web.api_headers(RM)
    api = web.client.get(f"/api/v1/records/packages/{package}/retention", headers=headers).json()
    assert api["assignment"]["code"] == "LG-1" and api["due"] is None and api["action"] == "retain"
    reviews = web.client.get(f"/api/v1/records/packages/{package}/reviews", headers=headers).json()["reviews"]
    assert [r["decision"] for r in reviews] == ["retain"]
    destroy = web.client.post(f"/api/v1/records/packages/{package}/reviews", headers=headers,
                              json={"decision": "destroy", "reason": "No longer needed"})  # fmt: skip
    assert destroy.status_code == 200 and destroy.json()["decision"] == "destroy" and destroy.json()["due"]
    triggers = web.client.get(f"/api/v1/records/packages/{package}/triggers", headers=headers).json()
    assert [t["name"] for t in triggers["triggers"]] == ["closure"]
    assert browser.get("/records/packages/no-such-package").status_code == 404
    lookup = browser.get(f"/records/package?ref={package[:8]}")
    assert lookup.status_code == 303 and lookup.headers["location"] == base


def _researcher_finds(web: Web, token: str, package: str) -> bool:
    with web.home.archive() as archive:
        hits = archive.search(SearchQuery(text=token, viewer=Role.RESEARCHER)).hits
    by_library = any(h.package == package for h in hits)
    answer = web.client.get("/api/v1/search", params={"q": token}, headers=web.api_headers(UserRole.RESEARCHER))
    assert answer.status_code == 200, answer.text
    by_api = package in answer.text
    assert by_library == by_api, "the search API and the library disagree about a closed record"
    return by_api


def test_the_closure_form_closes_a_record_and_a_researcher_no_longer_finds_it(web: Web, tmp_path: Path) -> None:
    source, token = transfer(tmp_path, "delta", "Personnel file of J. Smith")
    package = str(web.home.ingest(source)["package"])
    assert _researcher_finds(web, token, package)
    browser = web.browser(RM)
    base = f"/records/packages/{package}"
    page = browser.get(base).text
    assert "s.40: Personal information" in page  # the exemptions come from data/foi_exemptions.toml
    refused = browser.post(f"{base}/access", data={"status": "closed", "reason": "Personal data",
                                                   "exemption": "s.99"})  # fmt: skip
    assert refused.status_code == 400 and "s.99" in error_summary(refused.text)
    both = browser.post(f"{base}/access", data={"status": "closed", "reason": "x", "closure_start": "2001-01-01",
                                                "from_last_record": "yes", "period": "P20Y"})  # fmt: skip
    assert both.status_code == 400 and "not both" in error_summary(both.text)
    assert _researcher_finds(web, token, package), "a refused change closed the record"

    closed = browser.post(f"{base}/access", data={
        "status": "closed", "reason": f"Personal data {HOSTILE}", "from_last_record": "yes", "period": "P100Y",
        "exemption": "s.40", "redacted_title": "Personnel <file>",
    })  # fmt: skip
    assert closed.status_code == 303, error_summary(closed.text)
    assert not _researcher_finds(web, token, package)
    page = browser.get(base).text
    assert "Personnel &lt;file&gt;" in page and "under s.40" in page and "P100Y" in page
    assert_escaped(page)
    rules = web.client.get(f"/api/v1/records/packages/{package}/access", headers=web.api_headers(RM)).json()
    assert rules["rules"][0]["status"] == "closed" and rules["rules"][0]["exemption"] == "s.40"
    with web.home.archive() as archive:  # the records manager's look at the closed record is journalled
        looks = [e for e in archive.journal.entries(package=package) if e.event.type == "record.closed_viewed"]
    assert looks, "a staff look at a closed record was not journalled"

    opened = web.client.post(f"/api/v1/records/packages/{package}/access", headers=web.api_headers(RM),
                             json={"status": "open", "reason": "Released under FOI"})  # fmt: skip
    assert opened.status_code == 200 and opened.json()["previous"]["status"] == "closed"
    assert _researcher_finds(web, token, package)


def test_forms_without_the_csrf_token_change_nothing(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha")
    browser = web.browser(RM)
    before = journal_entries(web.home)
    answer: httpx.Response = browser.client.post("/records/holds", data={"type": "foi", "reason": "r",
                                                                         "packages": packages["alpha"]})  # fmt: skip
    assert answer.status_code == 403
    assert journal_entries(web.home) == before


def test_a_schedule_file_over_the_size_limit_is_refused_unread(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.web import routes_records

    monkeypatch.setattr(routes_records, "MAX_SCHEDULE_BYTES", len(SCHEDULE_TOML) - 1)
    upload = {"schedule_file": ("lg.toml", SCHEDULE_TOML.encode(), "application/toml")}
    page = web.browser(RM).post("/records/schedules", files=upload)
    assert page.status_code == 400 and "is larger than" in error_summary(page.text)
    with web.home.archive() as archive:
        assert archive.catalog.schedules() == []
