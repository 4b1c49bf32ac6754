"""End-to-end harness: a real `strongroom serve` process over a test archive, driven by Debian's Chromium.

The server is started as a person would start it (`.venv/bin/strongroom serve --port N`), on 127.0.0.1, once
per test session (per xdist worker); the browser is Debian's /usr/bin/chromium launched by Playwright with
`executable_path` (Playwright never downloads a browser here), with the flags this machine's closed network
needs. axe-core comes from node_modules (`npm ci`, run by `scripts/install.sh --dev`).

Helpers:
  - `site.sign_in(page, role)`: signs in through the sign-in form, by its labels;
  - `audit(page, name)`: axe-core's WCAG 2.2 AA rules (no violation allowed, printed readably), no console
    error, and no sideways scroll at 320 px wide;
  - `screenshot(page, name)`: a full-page picture in docs/screenshots/NAME.png, for the README.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from strongroom.accounts.model import UserRole
from tests.conftest import EXAMPLE_TRANSFER, REPO

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
STRONGROOM = Path(sys.executable).parent / "strongroom"
PASSWORD = "e2e correct horse battery staple"
# The flags the environment notes give for headless Chromium on this machine: without the background-networking
# ones it tries Google's hosts at every start, and the closed network refuses them many at a time.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
NARROW = 320
WIDE: ViewportSize = {"width": 1280, "height": 900}

# Accounts of the test site, by role; the second records manager is for the two-person disposal approval.
ACCOUNTS: dict[str, UserRole] = {
    "e2e-admin": UserRole.ADMIN,
    "e2e-archivist": UserRole.ARCHIVIST,
    "e2e-records-manager": UserRole.RECORDS_MANAGER,
    "e2e-records-manager-2": UserRole.RECORDS_MANAGER,
    "e2e-researcher": UserRole.RESEARCHER,
}


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: `bash scripts/install.sh --dev` installs Debian's chromium"
    if not AXE.exists():
        return f"{AXE} is missing: `bash scripts/install.sh --dev` runs `npm ci` for axe-core"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: `bash scripts/install.sh --dev` installs it"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _missing()
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.slow)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the embedded defaults (SQLite catalog and index), no slow optional checks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update({
        "STRONGROOM_VIRUS_SCAN": "off",  # no clamd needed; the ingest page then shows "not scanned"
        "STRONGROOM_CHARACTERISE": "0",  # no JVM start per ingest
        "STRONGROOM_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    env.update(extra or {})
    return env


@dataclass
class Server:
    """`strongroom serve` as a subprocess; stopped (and waited for) by `stop`."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, home: Path, env: dict[str, str], log: Path, timeout: float = 60.0) -> Server:
        port = free_port()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(STRONGROOM), "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home.parent,
            )  # fmt: skip
        server = cls(home, port, process, log)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"strongroom serve exited with {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/api/v1/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(
                    f"strongroom serve did not answer /api/v1/health in {timeout} s:\n{server.output()}"
                )
            time.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""

    def rss_kib(self, field_name: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field_name} in /proc/{self.process.pid}/status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def init_home(home: Path, env: dict[str, str]) -> None:
    """A new archive home through the command line, as the README's set-up makes one."""
    run = [str(STRONGROOM), "--home", str(home)]
    subprocess.run([*run, "init", "--organisation", "Test County Archive & Record Office", "--organisation-id", "TCA"],
                   check=True, env=env, capture_output=True)  # fmt: skip


def add_accounts(home: Path, accounts: dict[str, UserRole]) -> None:
    from strongroom.accounts.service import add_user
    from strongroom.archive import Archive

    with Archive.open(home) as archive:
        for name, role in accounts.items():
            add_user(archive, name, role, PASSWORD, operator="e2e-setup")


@dataclass
class Site:
    server: Server
    home: Path
    transfers: Path
    accounts: dict[str, UserRole] = field(default_factory=lambda: dict(ACCOUNTS))

    @property
    def url(self) -> str:
        return self.server.url

    def cli(self, *args: str) -> str:
        """A `strongroom` command on the served archive (set-up the flows need but do not test), its output."""
        done = subprocess.run([str(STRONGROOM), "--home", str(self.home), *args], env=server_env(),
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, f"strongroom {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def name_of(self, role: UserRole) -> str:
        return next(name for name, r in self.accounts.items() if r is role)

    def sign_out(self, page: object) -> None:
        from playwright.sync_api import Page, expect

        assert isinstance(page, Page)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    def sign_in(self, page: object, role: UserRole | None = None, *, name: str | None = None) -> str:
        """Signs `page` in through the sign-in form, found by its labels; returns the account name."""
        from playwright.sync_api import Page, expect

        assert isinstance(page, Page)
        account = name or self.name_of(role or UserRole.ARCHIVIST)
        page.goto(f"{self.url}/sign-in")
        page.get_by_label("Name").fill(account)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return account


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("e2e")
    home = root / "home"
    env = server_env()
    init_home(home, env)
    # Something to find from the start: the bundled sample transfer, stored through the command line.
    subprocess.run([str(STRONGROOM), "--home", str(home), "ingest", str(EXAMPLE_TRANSFER), "--title",
                    "Parish council minutes <script>alert(1)</script> & \"quotes\""],
                   check=True, env=env, capture_output=True)  # fmt: skip
    add_accounts(home, ACCOUNTS)
    transfers = root / "transfers"
    transfers.mkdir()
    server = Server.start(home, env, root / "server.log")
    try:
        yield Site(server, home, transfers)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    """A fresh browser context (no cookies) and page at a desktop size."""
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    context = chromium.new_context(viewport=WIDE, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@dataclass
class Audit:
    """What a page's check found: axe's violations and the page's sideways overflow at 320 px."""

    url: str
    violations: list[dict[str, object]]
    console_errors: list[str]
    narrow_scroll_width: int
    too_wide: list[str]  # at 320 px, the innermost elements reaching past the right edge

    def problems(self) -> list[str]:
        found = [format_violation(v) for v in self.violations]
        found += [f"console error: {text}" for text in self.console_errors]
        if self.narrow_scroll_width > NARROW:
            found.append(f"at {NARROW} px wide the page scrolls sideways: scrollWidth {self.narrow_scroll_width};"
                         f" too wide: {'; '.join(self.too_wide)}")  # fmt: skip
        return found


def format_violation(violation: dict[str, object]) -> str:
    lines = [f"[{violation.get('impact')}] {violation.get('id')}: {violation.get('help')} ({violation.get('helpUrl')})"]
    nodes = violation.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        lines.append(f"    at {node.get('target')}: {str(node.get('html'))[:200]}")
        summary = str(node.get("failureSummary") or "").replace("\n", " / ")
        if summary:
            lines.append(f"       {summary[:400]}")
    return "\n".join(lines)


def inject_axe(page: object) -> None:
    """axe-core into the page. The service's CSP (script-src 'self') refuses the inline <script> that
    page.add_script_tag makes (test_csp_refuses_an_inline_script proves it), so axe is evaluated over the
    DevTools protocol, which CSP does not govern."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))


def run_axe(page: object) -> list[dict[str, object]]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    inject_axe(page)
    result = page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        " return JSON.parse(JSON.stringify(r.violations)); }",
        AXE_TAGS,
    )
    assert isinstance(result, list)
    return result


_TOO_WIDE = """() => {
  const edge = document.documentElement.clientWidth + 1;
  const wide = [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > edge);
  const innermost = wide.filter(e => !wide.some(other => other !== e && e.contains(other)));
  return innermost.slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className)
    .trim().split(/\\s+/).join('.') : '') + ` (${Math.round(e.getBoundingClientRect().right)} px)`);
}"""


def narrow_scroll_width(page: object) -> tuple[int, list[str]]:
    """The page's scroll width at 320 px wide (WCAG 1.4.10 reflow) and what sticks out; the viewport is put
    back after."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    size = page.viewport_size or WIDE
    page.set_viewport_size({"width": NARROW, "height": 800})
    try:
        page.wait_for_timeout(50)  # a layout pass at the new width
        width = int(page.evaluate("() => document.scrollingElement.scrollWidth"))
        return width, (page.evaluate(_TOO_WIDE) if width > NARROW else [])
    finally:
        page.set_viewport_size({"width": size["width"], "height": size["height"]})


def audit(page: object, console_errors: list[str] | None = None) -> Audit:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    return Audit(page.url, run_axe(page), list(console_errors or []), *narrow_scroll_width(page))


def assert_accessible(page: object, console_errors: list[str] | None = None) -> None:
    found = audit(page, console_errors)
    problems = found.problems()
    assert not problems, f"{found.url}:\n" + "\n".join(problems)


def screenshot(page: object, name: str) -> Path:
    """docs/screenshots/NAME.png: the whole page at the desktop size, for the README."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


def reload_until(page: object, ready: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    """Reloads the page, as a person waiting for a background job would, until `ready()` says so."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: not so after {timeout} s; the page shows:\n{page.locator('main').inner_text()}"
            )
        page.wait_for_timeout(1000)
        page.reload()


def pdf_with(text: str) -> bytes:
    from tests.preservation.samples import pdf_bytes

    return pdf_bytes(text)
