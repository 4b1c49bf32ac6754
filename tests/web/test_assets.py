"""The GOV.UK Frontend styles and scripts built into the package: present, served right, and fit for a
service that is not on gov.uk (no GDS Transport, no crown), at the version package-lock.json pins."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO
from tests.web.conftest import Web

STATIC = REPO / "strongroom" / "web" / "static"
BUILT = {
    "strongroom.css": "text/css",
    "strongroom.js": "text/javascript",
    "govuk-frontend.min.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}


def locked_version(package: str) -> str:
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{package}"]["version"])


def test_package_json_pins_exact_versions_that_the_lock_file_holds() -> None:
    manifest = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    pinned = manifest["devDependencies"]
    assert set(pinned) == {"govuk-frontend", "sass", "axe-core"}
    for package, version in pinned.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package} {version!r} is not an exact version"
        assert locked_version(package) == version
    assert pinned["govuk-frontend"].split(".")[0] in {"5", "6"}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_file_is_committed_and_served_with_its_content_type(web: Web, name: str) -> None:
    path = STATIC / name
    assert path.is_file() and path.stat().st_size > 0, f"{path} is missing: run bash scripts/build_web_assets.sh"
    answer = web.client.get(f"/static/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0].strip() == BUILT[name]
    assert answer.content == path.read_bytes()
    assert answer.headers.get("x-content-type-options") == "nosniff"


def test_css_is_compressed_for_a_non_gov_uk_service_at_the_locked_version() -> None:
    css = (STATIC / "strongroom.css").read_text(encoding="utf-8")
    header = re.search(r"govuk-frontend (\d+\.\d+\.\d+)", css.split("\n", 2)[1])
    assert header, "the second line of strongroom.css names the govuk-frontend version it was built from"
    assert header.group(1) == locked_version("govuk-frontend")
    assert f'--govuk-frontend-version: "{header.group(1)}"' in css  # the compiled code agrees with the comment
    assert css.startswith('@charset "UTF-8";\n')
    assert "\ufeff" not in css, "a byte-order mark inside the file spoils the rule after it"
    # Not on gov.uk: GDS Transport is licensed for gov.uk only, and the crown and Royal Arms are not ours.
    lowered = css.lower()
    for banned in ("gds transport", "@font-face", "crown", "crest", "govuk-logo", ".woff"):
        assert banned not in lowered.replace("crown copyright", ""), f"strongroom.css mentions {banned!r}"
    assert "font-family:arial,sans-serif" in css.replace(" ", "")
    assert len(css.splitlines()) <= 4, "compressed: the rules sit on one line"
    assert "url(" not in css, "the CSS needs no image or font files (none is shipped)"
    wanted_classes = (
        ".strongroom-inline-form", ".strongroom-link-button", ".strongroom-organisation", ".strongroom-chart",
        ".strongroom-table-scroll", ".govuk-service-navigation", ".govuk-table", ".govuk-summary-list",
        ".govuk-error-summary", ".govuk-pagination", ".govuk-tag", ".govuk-tabs",
    )  # fmt: skip
    for wanted in wanted_classes:
        assert wanted in css, f"strongroom.css lacks {wanted}"


def test_scripts_are_modules_that_start_govuk_frontend_at_the_locked_version() -> None:
    page_script = (STATIC / "strongroom.js").read_text(encoding="utf-8")
    assert 'import { initAll } from "./govuk-frontend.min.js";' in page_script
    assert "govuk-frontend-supported" in page_script and "js-enabled" in page_script
    frontend = (STATIC / "govuk-frontend.min.js").read_text(encoding="utf-8")
    assert f'const version="{locked_version("govuk-frontend")}"' in frontend
    assert re.search(r"export\{[^}]*\binitAll\b", frontend)
    assert "sourceMappingURL" not in frontend, "the map is not shipped, so nothing may point at it"


def test_favicon_is_our_own_svg_not_the_crown() -> None:
    svg = (STATIC / "favicon.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "crown" not in svg.lower()
    assert "<script" not in svg.lower() and "href" not in svg.lower()


def test_every_layout_asset_a_template_names_is_shipped() -> None:
    templates = REPO / "strongroom" / "web" / "templates"
    named = set()
    for template in templates.rglob("*.html"):
        named |= set(re.findall(r'(?:href|src)="/static/([^"?#]+)"', template.read_text(encoding="utf-8")))
    assert {"strongroom.css", "strongroom.js", "favicon.svg"} <= named
    missing = sorted(name for name in named if not (STATIC / name).is_file())
    assert not missing, f"templates name /static files that are not built or shipped: {missing}"


def test_the_assets_source_is_kept_beside_the_built_files() -> None:
    source = REPO / "strongroom" / "web" / "assets"
    for name in ("strongroom.scss", "strongroom.js", "favicon.svg"):
        assert (source / name).is_file()
    for name in ("strongroom.js", "favicon.svg"):
        assert (source / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"run bash scripts/build_web_assets.sh ({name})"
        )


def test_pages_link_the_built_assets(web: Web) -> None:
    html = web.client.get("/").text
    assert '<link rel="stylesheet" href="/static/strongroom.css">' in html
    assert '<script type="module" src="/static/strongroom.js"></script>' in html
    assert 'class="govuk-skip-link"' in html and 'id="main-content"' in html
    assert "crown" not in html.lower()


def test_a_path_outside_static_is_not_served(web: Web) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        answer = web.client.get(path)
        assert answer.status_code == 404, path
        assert "create_app" not in answer.text
