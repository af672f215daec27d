from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dedup.config import load_config
from dedup.config.viewer import PRESETS, checked_template, template_problems, viewer_link
from dedup.errors import UsageError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_templates(name: str) -> None:
    assert template_problems(PRESETS[name]) == []
    assert "1.2.840.113619.2.1" in viewer_link(PRESETS[name], "1.2.840.113619.2.1")


def test_the_uid_is_url_encoded_and_cannot_add_parameters() -> None:
    link = viewer_link(PRESETS["OHIF"], "1.2.3&evil=1#x")
    query = parse_qs(urlsplit(link).query)
    assert query == {"StudyInstanceUIDs": ["1.2.3&evil=1#x"]}
    assert urlsplit(link).netloc == "pacs.example"


def test_no_template_no_link() -> None:
    assert template_problems("") == []
    assert viewer_link("", "1.2.3") == ""


@pytest.mark.parametrize(("template", "expected"), [
    ("ftp://pacs/{study_uid}", "must be an http(s) URL"),
    ("javascript:alert(1)//{study_uid}", "must be an http(s) URL"),
    ("https:///viewer?{study_uid}", "must be an http(s) URL"),
    ("https://pacs/viewer?p={patient_id}&s={study_uid}", "placeholder {patient_id}"),
    ("https://pacs/viewer?s={study_uid!r}", "with a format"),
    ("https://pacs/viewer?s={study_uid:>40}", "with a format"),
    ("https://pacs/viewer", "must contain {study_uid}"),
    ("https://pacs/viewer?s={study_uid", "not a valid template"),
    ("https://user:pw@pacs/viewer?s={study_uid}", "credentials"),
])
def test_bad_templates_are_refused(template: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        checked_template(template)


def test_literal_braces_are_allowed() -> None:
    assert viewer_link("https://pacs/v?q={{x}}&s={study_uid}", "1.2") == "https://pacs/v?q={x}&s=1.2"


def _config(tmp_path: Path, viewer: str) -> Path:
    path = tmp_path / "dedup.toml"
    path.write_text(f'[[sources]]\nname = "a"\ntype = "folder"\npath = "."\n'
                    f"[service]\nviewer_url = '{viewer}'\n")
    return path


def test_the_config_file_checks_the_template_when_loaded(tmp_path: Path) -> None:
    env = {"DEDUP_SERVICE_TOKENS": "x" * 20}
    good = load_config(_config(tmp_path, PRESETS["OHIF"]), env)
    assert good.service.viewer_url == PRESETS["OHIF"]
    with pytest.raises(UsageError, match=r"\[service\]: viewer_url must contain"):
        load_config(_config(tmp_path, "https://pacs/viewer"), env)
