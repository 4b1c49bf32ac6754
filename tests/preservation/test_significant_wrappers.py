"""A broken conversion tool cannot vouch for itself: the shipped rules run through a wrapper that converts with the
real tool and then drops a page or alters a pixel, and verification catches it. The same rule with the real tool
passes every check, so the failure is the wrapper's doing and nothing else."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from strongroom.formats import make_identifier
from strongroom.preservation.actions import CheckKind, CheckStatus, Conversion
from strongroom.preservation.convert import convert
from strongroom.preservation.policy import load_policy
from strongroom.preservation.significant import verify
from strongroom.preservation.toolrun import ToolRunner
from tests.preservation import media

DROP_LAST_PAGE = """#!/bin/sh
# Converts with the real LibreOffice, then keeps only the first two pages of every PDF it wrote.
set -e
soffice "$@"
outdir=.
previous=
for arg in "$@"; do
    if [ "$previous" = "--outdir" ]; then outdir="$arg"; fi
    previous="$arg"
done
for pdf in "$outdir"/*.pdf; do
    gs -q -dSAFER -dBATCH -dNOPAUSE -sDEVICE=pdfwrite -sPageList=1-2 -sOutputFile="$pdf.short" "$pdf"
    mv "$pdf.short" "$pdf"
done
"""

ALTER_ONE_PIXEL = """#!/bin/sh
# Converts with the real ImageMagick, then paints one pixel of the output (its last argument) a new colour.
set -e
convert-im6.q16 "$@"
for last in "$@"; do :; done
convert-im6.q16 "$last" -fill "#010203" -draw "point 3,4" "$last"
"""


def _wrapped(tmp_path: Path, tool: str, name: str, script: str) -> ToolRunner:
    """The shipped policy's tools, with `tool` replaced by the script `name`, found on PATH in a folder of its own."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    wrapper = folder / name
    wrapper.write_text(script, "utf-8")
    wrapper.chmod(0o755)
    policy = load_policy(None)
    tools = {**policy.tools, tool: dataclasses.replace(policy.tools[tool], executables=(name,))}
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
    return ToolRunner(tools, env, concurrency=1)


def _statuses(conversion: Conversion) -> dict[CheckKind, CheckStatus]:
    return {check.kind: check.status for check in conversion.checks}


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return media.make_office_documents(tmp_path_factory.mktemp("doc"), ("doc",))["doc"]


def test_libreoffice_wrapper_that_drops_a_page_is_caught(doc: Path, tmp_path: Path) -> None:
    rule = load_policy(None).rule("word-processing-to-pdfa")
    identify = make_identifier().identify

    honest = ToolRunner(load_policy(None).tools, concurrency=1)
    real = verify(convert(rule, doc, tmp_path / "real", honest), "fmt/40", honest, identify, tmp_path / "real")
    assert real.ok, real.checks
    assert set(_statuses(real).values()) == {CheckStatus.PASSED}, real.checks

    broken = _wrapped(tmp_path, "libreoffice", "broken-soffice", DROP_LAST_PAGE)
    made = convert(rule, doc, tmp_path / "broken", broken)
    assert made.run.ok and made.output is not None, made.run  # the wrapper "succeeded"
    assert made.run.argv[0].endswith("/broken-soffice")
    checked = verify(made, "fmt/40", broken, identify, tmp_path / "broken")
    assert not checked.ok
    pages = next(c for c in checked.checks if c.kind is CheckKind.PAGES)
    assert pages.status is CheckStatus.FAILED
    assert pages.detail.startswith(f"{media.DOC_PAGES} pages in the source but 2 in the output")
    text = next(c for c in checked.checks if c.kind is CheckKind.TEXT)
    assert text.status is CheckStatus.FAILED  # the third page's words went with it


def test_imagemagick_wrapper_that_alters_a_pixel_is_caught(tmp_path: Path) -> None:
    rule = load_policy(None).rule("raster-to-tiff")
    identify = make_identifier().identify
    source = media.make_images(tmp_path / "images", ("bmp",))["bmp"]

    honest = ToolRunner(load_policy(None).tools, concurrency=1)
    real = verify(convert(rule, source, tmp_path / "real", honest), "fmt/116", honest, identify, tmp_path / "real")
    assert real.ok and set(_statuses(real).values()) == {CheckStatus.PASSED}, real.checks

    broken = _wrapped(tmp_path, "imagemagick", "broken-convert", ALTER_ONE_PIXEL)
    made = convert(rule, source, tmp_path / "broken", broken)
    assert made.run.ok and made.output is not None, made.run
    checked = verify(made, "fmt/116", broken, identify, tmp_path / "broken")
    assert _statuses(checked) == {CheckKind.FORMAT: CheckStatus.PASSED, CheckKind.PIXELS: CheckStatus.FAILED}
    pixels = next(c for c in checked.checks if c.kind is CheckKind.PIXELS)
    assert pixels.detail.startswith("AE 1 of ")
    assert not checked.ok
