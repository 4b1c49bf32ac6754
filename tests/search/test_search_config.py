"""[search] url and STRONGROOM_SEARCH_URL / STRONGROOM_SEARCH_INDEX as load_settings reads them (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.config import load_settings
from strongroom.errors import ConfigError


def test_a_url_that_names_no_server_is_refused_without_showing_its_password(tmp_path: Path) -> None:
    (tmp_path / "strongroom.toml").write_text("[search]\n", encoding="utf-8")
    environ = {"STRONGROOM_SEARCH_URL": "elasticsearch+htps://elastic:s3cret-Pa55@search.example:9200"}
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ=environ)
    said = str(caught.value) + " ".join(getattr(caught.value, "details", []) or [])
    assert "does not say which server it is" in said
    assert "s3cret-Pa55" not in said
    assert "elastic:***@search.example:9200" in said
    # Nor when the scheme is missing altogether.
    with pytest.raises(ConfigError) as bare:
        load_settings(tmp_path, environ={"STRONGROOM_SEARCH_URL": "elastic:s3cret-Pa55@search.example:9200"})
    assert "s3cret-Pa55" not in str(bare.value) and "elastic:***@search.example" in str(bare.value)


def test_the_url_picks_the_backend_and_the_index_variable_names_the_alias(tmp_path: Path) -> None:
    (tmp_path / "strongroom.toml").write_text(
        '[search]\nurl = "OpenSearch+HTTPS://reader:pw@search.example:9200"\nindex = "from-file"\n', encoding="utf-8"
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.search_kind == "opensearch"
    assert settings.search_options["url"] == "HTTPS://reader:pw@search.example:9200"
    assert settings.search_options["index"] == "from-file"
    assert "path" not in settings.search_options
    chosen = load_settings(tmp_path, environ={"STRONGROOM_SEARCH_INDEX": "from-env"})
    assert chosen.search_options["index"] == "from-env"
    plain = load_settings(tmp_path, environ={"STRONGROOM_SEARCH_URL": "elasticsearch+http://127.0.0.1:9"})
    assert (plain.search_kind, plain.search_options["url"]) == ("elasticsearch", "http://127.0.0.1:9")
