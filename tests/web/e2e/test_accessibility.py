"""Every page each role can reach, checked in Chromium: axe-core's WCAG 2.2 AA rules, 320 px reflow, the keyboard.

The pages are found by following the links a person of each role sees, from the start page on (same site, GET
only, never sign-out), so a page added later is checked without naming it here. Pages of one shape (the same
path with another package's UUID or number) are checked once per role.
"""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from strongroom.accounts.model import UserRole
from tests.web.e2e.conftest import AXE, NARROW, Site, assert_accessible, audit, screenshot

MAX_PAGES = 80  # per role: far more than the service has shapes of page; a runaway crawl stops here
_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=/)\d+(?=/|$)", re.I)
_NEVER = ("/sign-out", "/api/", "/static/")
# Links to files, not pages: downloads and exports are checked by their own tests.
_FILES = re.compile(r"/(download|export)(/|\?|$)|\.(csv|json|zip|pdf|xml|svg|png|txt)(\?|$)")


def shape(url: str) -> str:
    """A page's shape: its path with identifiers blanked, and its query's keys (not their values)."""
    parts = urlsplit(url)
    keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return _SHAPE.sub("{id}", parts.path) + ("?" + "&".join(keys) if keys else "")


def crawl(page: object, site: Site, start: str = "/") -> dict[str, list[str]]:
    """Visits every page reachable by links from `start` (one of each shape) and audits it; returns the
    problems found per URL (empty lists for pages with none)."""
    from playwright.sync_api import Error, Page

    assert isinstance(page, Page)
    errors: list[str] = []
    # GOV.UK Frontend reports a component that cannot start with console.log, not console.error.
    # Chromium's own "Failed to load resource" line names no address: the response listener below does.
    page.on("console", lambda m: errors.append(m.text) if (m.type == "error" or "Error:" in m.text)
            and not m.text.startswith("Failed to load resource") else None)  # fmt: skip
    page.on("response", lambda r: errors.append(f"{r.url} answered {r.status} (a part of the page)")
            if r.status >= 400 and r.request.resource_type != "document" else None)  # fmt: skip
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    queue = [urljoin(site.url, start)]
    seen_shapes: set[str] = set()
    found: dict[str, list[str]] = {}
    while queue and len(found) < MAX_PAGES:
        url = queue.pop(0)
        if shape(url) in seen_shapes:
            continue
        seen_shapes.add(shape(url))
        errors.clear()
        try:
            answer = page.goto(url)
        except Error as exc:
            if "Download is starting" in str(exc):
                continue  # a file sent as an attachment, not a page
            raise
        assert answer is not None
        if "text/html" not in (answer.headers.get("content-type") or ""):
            continue
        if answer.status >= 500:
            found[url] = [f"answered {answer.status}: {page.locator('main').inner_text()[:300]}"]
            continue
        page.wait_for_load_state("load")
        assert page.evaluate("() => document.body.classList.contains('govuk-frontend-supported')"), (
            f"{url}: strongroom.js did not run (is the module refused by the Content-Security-Policy?)"
        )
        assert page.locator("h1").count() == 1, f"{url} has {page.locator('h1').count()} h1 headings, not one"
        found[url] = audit(page, errors).problems()
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            target = urldefrag(urljoin(url, href)).url
            if not target.startswith(site.url) or any(part in target for part in _NEVER) or _FILES.search(target):
                continue
            if shape(target) not in seen_shapes:
                queue.append(target)
    return found


ROLES = [UserRole.PUBLIC, UserRole.RESEARCHER, UserRole.ARCHIVIST, UserRole.RECORDS_MANAGER, UserRole.ADMIN]


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_every_page_a_role_reaches_passes_axe_and_reflows_at_320px(page: object, site: Site, role: UserRole) -> None:
    if role is not UserRole.PUBLIC:
        site.sign_in(page, role)
    found = crawl(page, site)
    assert len(found) >= 2, f"only {list(found)} reached: the start page's links are missing"
    bad = {url: problems for url, problems in found.items() if problems}
    report = "\n\n".join(f"{url}\n" + "\n".join(problems) for url, problems in bad.items())
    assert not bad, f"{len(bad)} of {len(found)} pages reached as {role.value} fail:\n\n{report}"


def test_sign_in_and_search_pages_pass_and_are_pictured(page: object, site: Site) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(site.url + "/")
    assert_accessible(page)
    screenshot(page, "start")
    page.goto(site.url + "/sign-in")
    assert_accessible(page)
    screenshot(page, "sign-in")
    # A failed sign-in: the error summary must pass too.
    page.get_by_label("Name").fill("nobody <script>")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(page)
    page.goto(site.url + "/search?q=minutes")
    assert_accessible(page)
    screenshot(page, "search")


def test_the_skip_link_comes_first_and_the_search_box_is_reached_by_tab(page: object, site: Site) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    first = page.evaluate("() => [document.activeElement.className, document.activeElement.textContent.trim()]")
    assert "govuk-skip-link" in first[0] and first[1] == "Skip to main content", first
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert page.evaluate("() => document.activeElement.id") == "main-content"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('type')") == "search":
            break
    else:
        raise AssertionError("20 presses of Tab after the skip link never reached the search box")
    page.keyboard.type("minutes")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=minutes"))
    assert page.locator("h1").count() == 1


def test_the_menu_works_by_keyboard_at_320px(page: object, site: Site) -> None:
    """At 320 px the service navigation collapses behind a Menu button that opens with the keyboard."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    site.sign_in(page, UserRole.ADMIN)
    page.set_viewport_size({"width": NARROW, "height": 800})
    page.goto(site.url + "/")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(sign_out).to_be_visible()
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= NARROW


def test_csp_refuses_an_inline_script_so_axe_is_evaluated_instead(page: object, site: Site) -> None:
    """The service's Content-Security-Policy (script-src 'self') refuses page.add_script_tag's inline script:
    proof that the policy is in force, and the reason the harness evaluates axe over the DevTools protocol."""
    from playwright.sync_api import Error, Page

    assert isinstance(page, Page)
    page.goto(site.url + "/")
    with contextlib.suppress(Error):  # Playwright reports the refused script as an error in some versions
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("() => typeof window.axe") == "undefined", "an inline script ran despite the CSP"
    assert_accessible(page)
    assert page.evaluate("() => typeof window.axe") == "object"
