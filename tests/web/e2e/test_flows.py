"""The tasks of the issue, done in Chromium as a person does them, by the pages' labels and roles: upload a
transfer, approve it, find a word from inside one of its PDFs; place a hold; approve a disposal as two people.

Each flow checks axe-core's WCAG 2.2 AA rules and 320 px reflow on the pages it passes through (the forms
with their answers on them, which a crawl of links never sees) and writes the screenshots the README shows.
Set-up that is not the task itself (a retention schedule, a package to dispose of) is made with the
command line on the served archive.
"""

from __future__ import annotations

import json
import re
import uuid
import zipfile

from strongroom.accounts.model import UserRole
from tests.web.e2e.conftest import Site, assert_accessible, pdf_with, reload_until, screenshot


def test_upload_a_transfer_approve_it_and_find_a_word_inside_its_pdf(page: object, site: Site) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    word = "quillwort" + uuid.uuid4().hex[:6]  # a word found nowhere else in the archive
    transfer = site.transfers / "vestry-minutes-1887.zip"
    with zipfile.ZipFile(transfer, "w") as archive:
        archive.writestr("objects/vestry/minutes-1887.pdf", pdf_with(f"Vestry minutes {word} 1887"))
        archive.writestr("objects/vestry/notes.txt", 'Notes of the vestry meeting, "quoted" & <marked>.\n')

    site.sign_in(page, UserRole.ARCHIVIST)
    page.get_by_role("link", name="Ingest").first.click()
    expect(page.get_by_role("heading", level=1, name="Ingest")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "ingest")
    page.get_by_label("Transfer file").set_input_files(str(transfer))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/ingest/transfers/[^/]+$"), timeout=120_000)
    transfer_url = page.url
    approve = page.get_by_role("button", name="Approve and store")
    reload_until(page, approve.is_visible, "the check finished and offers approval")
    expect(page.get_by_role("heading", name="What the check found")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "ingest-check")
    approve.click()
    stored = page.get_by_role("heading", name="Stored")
    reload_until(page, stored.is_visible, "the approved transfer is stored")
    assert page.url.split("?")[0] == transfer_url.split("?")[0]
    assert_accessible(page)
    package_link = page.get_by_role("link", name=re.compile(r"^package "))
    package = package_link.inner_text().removeprefix("package ").strip()
    package_link.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "package")

    # The public, not signed in, finds the word that is only inside the PDF.
    site.sign_out(page)
    page.goto(site.url + "/")
    page.get_by_label("Search the archive").fill(word)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/search\?"))
    main = page.locator("main")
    expect(main).to_contain_text("minutes-1887.pdf")
    expect(main.locator("mark").filter(has_text=word)).to_have_count(1)
    assert package[:8] in main.inner_html() or "vestry" in main.inner_text().lower()
    assert_accessible(page)
    screenshot(page, "search-results")


def _schedule_and_package(site: Site, code: str) -> str:
    """A retention schedule `code` (destroy one year after creation) and a new package under it; its UUID."""
    schedules = site.transfers / f"{code}.csv"
    row = f"{code},Routine correspondence <e2e>,Letters & notes,Test authority,1 year,creation,destroy"
    schedules.write_text(f"code,title,description,authority,period,trigger,action\n{row}\n", encoding="utf-8")
    site.cli("retention", "load", str(schedules))
    folder = site.transfers / f"{code}-letters"
    (folder / "objects").mkdir(parents=True)
    (folder / "objects" / "letter.txt").write_text(f"A routine letter filed under {code}.\n", encoding="utf-8")
    stored = json.loads(site.cli("ingest", str(folder), "--retention", code, "--title", f"Letters {code}", "--json"))
    return str(stored["package"])


def test_place_a_hold_on_a_package(page: object, site: Site) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    package = _schedule_and_package(site, "E2E-HOLD")
    site.sign_in(page, UserRole.RECORDS_MANAGER)
    page.goto(site.url + "/records/holds")
    assert_accessible(page)
    page.get_by_label("Type of hold").select_option("litigation")
    page.get_by_label("Reason", exact=True).fill('Claim HC-42 <script>alert("x")</script> & more')
    page.get_by_label("Who ordered or asked for it (optional)").fill("High Court")
    page.get_by_label("Packages to hold").fill(package)
    page.get_by_role("button", name="Place the hold").click()
    main = page.locator("main")
    expect(main).to_contain_text('Claim HC-42 <script>alert("x")</script> & more')  # shown as text, not run
    assert page.evaluate("() => document.querySelectorAll('main script').length") == 0
    assert_accessible(page)
    screenshot(page, "records-hold")
    held = site.cli("hold", "list", "--json")
    assert package in held and "HC-42" in held


def test_a_disposal_needs_two_different_people_to_approve_it(page: object, site: Site) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    package = _schedule_and_package(site, "E2E-DISPOSE")
    first = site.sign_in(page, name="e2e-records-manager")
    page.goto(site.url + "/records/due")
    page.get_by_label("List what is due on this day").fill("2100-01-01")
    page.get_by_role("button", name="Show the due list").click()
    main = page.locator("main")
    expect(main).to_contain_text("Letters E2E-DISPOSE")
    assert_accessible(page)
    screenshot(page, "records-due")
    page.get_by_role("button", name="Propose a disposal batch").click()
    page.wait_for_url(re.compile(r"/records/disposal/[^/?]+"))
    batch_url = page.url.split("?")[0]
    expect(main).to_contain_text(package)  # the proposed batch lists the package due
    page.get_by_role("button", name=f"Approve as {first}").click()
    expect(main).to_contain_text("a second, different person must approve it")
    assert_accessible(page)
    # The same person approving again is refused, and says why.
    again = page.get_by_role("button", name=f"Approve as {first}")
    if again.count():
        again.click()
        expect(page.locator(".govuk-error-summary, .govuk-error-message").first).to_be_visible()
        expect(main).to_contain_text(re.compile(r"different|already", re.I))
        assert_accessible(page)
    assert _batch_statuses(site) == ["proposed"]

    site.sign_out(page)
    second = site.sign_in(page, name="e2e-records-manager-2")
    page.goto(batch_url)
    page.get_by_role("button", name=f"Approve as {second}").click()
    expect(main).to_contain_text(first)
    expect(main).to_contain_text(second)
    expect(page.get_by_role("heading", name="Execute")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "records-disposal-batch")
    assert _batch_statuses(site) == ["approved"]


def _batch_statuses(site: Site) -> list[str]:
    listed = json.loads(site.cli("disposal", "list", "--json"))
    return [str(batch["status"]) for batch in listed["batches"]]


def test_an_administrator_sees_the_users(page: object, site: Site) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    site.sign_in(page, UserRole.ADMIN)
    page.get_by_role("link", name="Admin").first.click()
    page.get_by_role("link", name="Users").click()
    expect(page.locator("main")).to_contain_text("e2e-records-manager-2")
    screenshot(page, "admin-users")
    assert_accessible(page)


def test_a_closed_record_is_out_of_a_researchers_reach_in_the_browser(page: object, site: Site) -> None:
    """Closed with the command line; then, as the public and as a researcher: not found by search, its page is
    the masked stand-in, and a guessed download address answers 404 without a byte of it."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    word = "sealwort" + uuid.uuid4().hex[:6]
    folder = site.transfers / "personnel-file"
    (folder / "objects").mkdir(parents=True)
    (folder / "objects" / "appraisal.txt").write_text(f"Confidential appraisal {word}.\n", encoding="utf-8")
    stored = json.loads(site.cli("ingest", str(folder), "--title", f"Personnel file {word}", "--json"))
    package = str(stored["package"])
    site.cli("access", package, "--status", "closed", "--reason", "Personal data", "--redacted-title",
             "Personnel file (closed)")  # fmt: skip

    for role in (UserRole.PUBLIC, UserRole.RESEARCHER):
        if role is UserRole.RESEARCHER:
            site.sign_in(page, role)
        page.goto(f"{site.url}/search?q={word}")
        expect(page.locator("main")).not_to_contain_text(word)
        expect(page.locator("main")).not_to_contain_text("appraisal")
        found = page.request.get(f"{site.url}/api/v1/search?q={word}").json()
        assert found["total"] == 0 and found["hits"] == [], found
        page.goto(f"{site.url}/packages/{package}")
        main = page.locator("main")
        expect(main).to_contain_text("Personnel file (closed)")
        assert word not in page.content() and "appraisal.txt" not in page.content()
        assert_accessible(page)
        answer = page.request.get(f"{site.url}/packages/{package}/download/objects/appraisal.txt")
        assert answer.status == 404 and word.encode() not in answer.body()
        api = page.request.get(f"{site.url}/api/v1/packages/{package}/download/objects/appraisal.txt")
        assert api.status == 404 and word.encode() not in api.body()
    screenshot(page, "closed-record")
