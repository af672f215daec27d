"""The schedulers' page: the pre-order check in a browser, served by ``dedup serve``.

``GET /schedule`` is a plain HTML form (``static/schedule.html``, ``.js``, ``.css``: no build
step, no CDN, no external font; a Content-Security-Policy keeps every request on this
server). The page holds no patient data and needs no token to load; what it asks goes
through the HTTP API with the caller's bearer token, which the page asks for once and keeps in
the tab's ``sessionStorage`` (gone when the tab closes): ``POST /v1/priors`` for the check,
``POST /v1/outcomes`` for withdrawn / ordered anyway, and ``GET /schedule/procedures`` (also
behind the token) for the procedure suggestions, the curated procedure families and each
imaging class with each DICOM body region whose name the check reads back as that region.
``GET /`` leads to the page.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dedup.match.procedures import ProcedureRules, classify_procedure
from dedup.service.guard import ApiError, json_response

__all__ = ["PAGE_PATHS", "procedure_suggestions", "router"]

router = APIRouter(tags=["schedulers' page"], include_in_schema=False)
_FILES = {"schedule.js": "text/javascript", "schedule.css": "text/css"}
#: The paths the page loads before it has a token (static files without patient data).
PAGE_PATHS = frozenset({"/", "/schedule", *(f"/schedule/{name}" for name in _FILES)})
#: Imaging classes offered with every body region (others: their curated families only).
_CLASSES = ("XR", "CT", "MR", "US")
_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
    "cache-control": "no-cache"}


@router.get("/")
async def home() -> Response:
    """The schedulers' page is the service's home."""
    return RedirectResponse("/schedule", status_code=303)


@router.get("/schedule")
async def page() -> Response:
    """The page (HTML)."""
    return Response(_static("schedule.html"), media_type="text/html; charset=utf-8",
                    headers=_HEADERS)


@router.get("/schedule/procedures")
async def procedures(request: Request) -> Response:
    """The procedure suggestions of the page's procedure field."""
    return json_response({"procedures": procedure_suggestions(request.app.state.checker
                                                              .mapping)},
                         headers={"cache-control": "private, max-age=3600"})


@router.get("/schedule/{name}")
async def static_file(name: str) -> Response:
    """The page's script and style sheet."""
    if name not in _FILES:
        raise ApiError(404, "not-found", "no such file of the schedulers' page")
    return Response(_static(name), media_type=f"{_FILES[name]}; charset=utf-8",
                    headers=_HEADERS)


@cache
def _static(name: str) -> bytes:
    return resources.files("dedup.service").joinpath("static", name).read_bytes()


def procedure_suggestions(mapping: ProcedureRules) -> list[str]:
    """Procedure names the check understands, sorted: curated families, class + region.

    A class and a region's meaning (``CT Abdomen and Pelvis``) is offered only when the
    check reads those words back as that region and no curated family covers it, so every
    suggestion is a known procedure, named once.
    """
    names = {rule.family for rule in mapping.rules}
    for group in _CLASSES:
        for region in mapping.regions:
            text = f"{group} {region.meaning}"
            found = classify_procedure(mapping, group, description=text)
            if found.known and found.region == region.term and not found.curated:
                names.add(text)  # a curated family is offered by its own name
    return sorted(names, key=str.upper)
