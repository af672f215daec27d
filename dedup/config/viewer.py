"""The viewer link template: where a prior study opens in the hospital's own viewer.

``[service] viewer_url`` in the configuration (or ``dedup serve --viewer-url``,
``DEDUP_VIEWER_URL``) is an http(s) URL with the placeholder ``{study_uid}``, e.g. OHIF's
``https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid}``. :data:`PRESETS` lists the
forms of the viewers the documentation names. The template is checked when the configuration
is loaded (:func:`template_problems`: an http(s) URL with a host, only known placeholders,
``{study_uid}`` present); each link is built by :func:`viewer_link`, which URL-encodes the
value, so a UID can never add a query parameter or leave the viewer's host.
"""

from __future__ import annotations

import string
from urllib.parse import quote, urlsplit

from dedup.errors import UsageError

__all__ = ["PLACEHOLDERS", "PRESETS", "checked_template", "template_problems", "viewer_link"]

#: The placeholders a template may use, and what each is replaced by.
PLACEHOLDERS: dict[str, str] = {"study_uid": "the study's StudyInstanceUID"}
#: Templates of the viewers the documentation names (host and prefix are the hospital's).
PRESETS: dict[str, str] = {
    "OHIF": "https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid}",
    "Orthanc Explorer 2": ("https://pacs.example/ui/app/#/filtered-studies?"
                           "StudyInstanceUID=%22{study_uid}%22&expand=study"),
    "Orthanc Stone Web Viewer": ("https://pacs.example/stone-webviewer/index.html?"
                                 "study={study_uid}"),
}


def template_problems(template: str, where: str = "viewer_url") -> list[str]:
    """What is wrong with a viewer link template (empty: nothing; ``""`` is no template).

    Args:
        template: the template.
        where: how messages name the setting.

    """
    if not template:
        return []
    problems = []
    try:
        url = urlsplit(template)
        if url.scheme not in ("http", "https") or not url.hostname:
            problems.append(f"{where} must be an http(s) URL with a host, e.g. "
                            f"{PRESETS['OHIF']!r}")
        if url.username or url.password:
            problems.append(f"{where} must not hold credentials (a link is shown to users)")
        fields = [(name, spec, conversion) for _, name, spec, conversion
                  in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [*problems, f"{where} is not a valid template ({exc}); write a literal "
                "brace as {{ or }}"]
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            problems.append(f"{where} has the placeholder {{{name[:40]}}}"
                            f"{' with a format' if spec or conversion else ''}; "
                            f"the placeholders are {known}, written as is")
    if "study_uid" not in {name for name, _, _ in fields}:
        problems.append(f"{where} must contain {{study_uid}}: the link opens one study")
    return problems


def checked_template(template: str, where: str = "viewer_url") -> str:
    """``template`` once :func:`template_problems` finds nothing wrong with it.

    Raises:
        UsageError: the problems, listed together.

    """
    problems = template_problems(template, where)
    if problems:
        raise UsageError("; ".join(problems))
    return template


def viewer_link(template: str, study_uid: str) -> str:
    """The link to one study: ``template`` with the URL-encoded UID (``""``: no template)."""
    return template.format(study_uid=quote(study_uid, safe="")) if template else ""
