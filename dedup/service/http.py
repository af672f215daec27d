"""The HTTP API of the check service (FastAPI): a thin mapping of requests onto ``check()``.

Endpoints (all but ``/healthz`` and the documentation need a bearer token):

``GET /v1/priors``      the pre-order question as query parameters; the priors and a
                        recommendation. ``POST /v1/priors`` takes the same fields as JSON, which
                        keeps demographics out of URLs (proxies log URLs).
``POST /v1/outcomes``   what the scheduler decided for a check: ``withdrawn`` or
                        ``ordered-anyway`` with a reason.
``GET /v1/studies/{uid}`` one study's metadata (the target of CDS card links).
``GET /healthz``        liveness and the generation being served.
``/cds-services``       the CDS Hooks service (:mod:`dedup.service.cds_hooks`).

Checks run on the event loop: a lookup takes well under a millisecond and never waits on I/O
but the check log's short SQLite insert. Errors have one JSON shape (:mod:`.guard`); bad input
is always a 4xx that names the field, never a 500 or a trace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dedup import __version__
from dedup.archive.publish import PublishedReader
from dedup.check import Channel, Checker
from dedup.check.outcome import ContradictoryDecisions, NotYourCheck, UnknownCheck
from dedup.errors import ArchiveError, StorageError, UsageError
from dedup.service import cds_hooks, fhir, page
from dedup.service.cds_jwt import CdsAuth
from dedup.service.fhir_resources import FHIR_JSON
from dedup.service.guard import ApiError, Guard, error_body, is_cds, is_fhir, json_response
from dedup.service.outcomes import conflict, may_record_any, utc_text

log = logging.getLogger("dedup.service")
_NO_STORE = {"cache-control": "no-store"}


class PriorOut(BaseModel):
    """One prior study (response documentation)."""

    study_uid: str
    study_date: str
    days_ago: int
    institution: str | None
    family: str
    description: str | None
    modalities: str | None
    location: str | None = Field(None, description=(
        "Where the images are (folder or zip file); only when the setting "
        "check_show_locations is on (a path can hold names or IDs)."))
    n_instances: int
    link_probability: float = Field(description="Linkage model's probability for the record.")
    link_reasons: list[str]
    laterality: str = Field(description="L, R, B, U (no sides) or empty (not known).")
    answer: str = Field(description="yes, or possible (side or body part uncertain).")
    viewer_url: str = Field(description="The study in the hospital's viewer ([service] "
                                        "viewer_url); empty when none is configured.")


class CheckOut(BaseModel):
    """The answer to a pre-order question (response documentation)."""

    check_id: str
    asked_at: str
    family: str
    window_days: int
    order_date: str
    patients_matched: int
    priors: list[PriorOut]
    recommendation: str
    generation: str
    latency_ms: float
    laterality: str = Field(description="The order's side: L, R, B, U (no sides) or empty.")
    answer: str = Field(description="yes, possible, no, or unknown (nothing to look for).")
    basis: str = Field(description="How the order's procedure family was found.")


class QuestionIn(BaseModel):
    """The pre-order question; the same fields as the query of ``GET /v1/priors``."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200, description="FAMILY^GIVEN^MIDDLE")
    birth_date: str | None = Field(None, max_length=20, description="YYYY-MM-DD")
    sex: str | None = Field(None, max_length=10, description="M, F, O or U")
    patient_id: str = Field("", max_length=64)
    issuer: str = Field("", max_length=64)
    procedure: str = Field("", max_length=80, description="A family, e.g. CT HEAD")
    modality: str = Field("", max_length=16)
    body_part: str = Field("", max_length=80)
    description: str = Field("", max_length=200)
    code: str = Field("", max_length=64, description="Procedure code, e.g. CPT 70450")
    laterality: str = Field("", max_length=16, description="L, R or B; default: from the text")
    order_date: str | None = Field(None, max_length=20, description="YYYY-MM-DD; default today")
    within_days: str | None = Field(None, max_length=8, description="Override the window")
    institution: str = Field("", max_length=120, description="The ordering institution")


class OutcomeIn(BaseModel):
    """What the scheduler decided after a check."""

    model_config = ConfigDict(extra="forbid")
    check_id: str = Field(max_length=64)
    outcome: Literal["withdrawn", "ordered-anyway"]
    reason: str | None = Field(None, max_length=500, description="Why it was ordered anyway")


class ConflictOut(BaseModel):
    """The different outcome a new one replaced as the check's latest."""

    previous: str
    previous_decided_at: str


class OutcomeOut(BaseModel):
    """The recorded outcome: 201 when written, 200 when it repeated the latest one."""

    check_id: str
    outcome: str
    decided_at: str = Field(description="When the server stored it (its clock orders "
                                        "outcomes), UTC.")
    recorded: bool = Field(description="False: it repeated the check's latest outcome.")
    conflict: ConflictOut | None = Field(None, description=(
        "Present when it contradicts the check's previous outcome, which it replaces as "
        "the latest (the previous one stays in the log)."))


class ErrorOut(BaseModel):
    """The one error shape."""

    error: dict[str, Any]


_QUERY_PARAMETERS = [
    {"name": name, "in": "query", "required": name in ("name", "birth_date", "sex"),
     "description": field.description or "", "schema": {"type": "string"}}
    for name, field in QuestionIn.model_fields.items()]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 408, 409, 413, 415, 503)}


router = APIRouter()


class StudyLookup:
    """Reads one study from the published snapshot (own connection, one query at a time)."""

    def __init__(self, archive_path: str) -> None:
        self._reader = PublishedReader(archive_path)
        self._lock = threading.Lock()

    def get(self, study_uid: str) -> dict[str, Any] | None:
        """The study's row, or None."""
        with self._lock:
            rows = self._reader.archive().run("check_study", [study_uid])
        return rows.row(0, named=True) if rows.height else None

    def close(self) -> None:
        """Close the connection."""
        self._reader.close()


def create_app(checker: Checker, tokens: dict[bytes, str], *, max_body: int = 1024**2,
               reload: bool = True,
               outcome_recorders: frozenset[str] = frozenset(),
               cds_auth: CdsAuth | None = None) -> FastAPI:
    """The service: routes, error handlers and the guard, over one :class:`Checker`.

    Args:
        checker: answers the questions and logs them; its settings say whether file paths
            are shown (``check_show_locations``), how many orders a CDS call may hold and
            how long a request body may take.
        tokens: accepted bearer tokens (:func:`dedup.config.tokens.tokens_from`).
        max_body: largest request body in bytes.
        reload: pick up newly published snapshots in the background.
        outcome_recorders: token names that may record outcomes of any caller's checks.
        cds_auth: when given, CDS Hooks calls need a JWT it accepts (static tokens: discovery).

    """
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            checker.holder.refresh()
        except ArchiveError as exc:
            log.warning("starting without an index: %s", exc)
        except Exception:  # logged and retried by the holder, reported by /healthz
            pass
        if reload:
            checker.holder.start()
        yield
        checker.holder.stop()
        app.state.studies.close()
        if checker.log is not None:
            checker.log.close()

    app = FastAPI(title="dedup check service", version=__version__, lifespan=lifespan,
                  description="Pre-order check for prior imaging: HTTP API and CDS Hooks.")
    app.state.checker = checker
    app.state.outcome_recorders = outcome_recorders
    app.state.studies = StudyLookup(checker.holder.archive_path)
    app.include_router(router)
    app.include_router(cds_hooks.router)
    app.include_router(fhir.router)
    app.include_router(page.router)
    for kind in _ERROR_REPLIES:
        app.add_exception_handler(kind, _reply)
    app.add_middleware(Guard, tokens=tokens, max_body=max_body,  # type: ignore[arg-type]
                       body_seconds=checker.settings.check_body_seconds, cds_auth=cds_auth)
    return app


@router.get("/healthz", tags=["service"])
async def healthz(request: Request) -> Response:
    """Health: the generation served, and whether it is stale (a newer one failed to build).

    200 while an index is served: ``status`` is ``ok``, or ``stale`` with the generation that
    failed, why, since when and when it is retried. 503 until the first index is built
    (``starting``, or ``failing`` with the reason).
    """
    health = request.app.state.checker.holder.health()
    return json_response(health, 200 if "generation" in health else 503, headers=_NO_STORE)


@router.get("/v1/priors", tags=["checks"], responses={200: {"model": CheckOut}, **_ERRORS},
            openapi_extra={"parameters": _QUERY_PARAMETERS})
async def get_priors(request: Request) -> Response:
    """Priors of the same procedure family inside its look-back window.

    The parameters are those of ``POST /v1/priors``' body; they are read directly (no
    per-parameter validation pass), and checked together by the check itself.
    """
    query = request.query_params
    unknown = sorted(set(query) - set(QuestionIn.model_fields))
    if unknown:
        raise ApiError(400, "invalid-request", "unknown query parameters",
                       [f"{name[:40]}: not a parameter of /v1/priors" for name in unknown])
    return _answer(request, {name: query.get(name) for name in QuestionIn.model_fields})


@router.post("/v1/priors", tags=["checks"], responses={200: {"model": CheckOut}, **_ERRORS})
async def post_priors(request: Request, question: QuestionIn) -> Response:
    """The same as ``GET /v1/priors``, with the question as a JSON body."""
    return _answer(request, question.model_dump())


@router.post("/v1/outcomes", tags=["checks"], status_code=201,
             responses={201: {"model": OutcomeOut}, **_ERRORS})
async def post_outcome(request: Request, body: OutcomeIn) -> Response:
    """Record what was decided after a check (the dashboard counts these).

    Only the caller that asked the check records its outcome (403 for others, unless listed
    in ``outcome_recorders``). The server's clock orders a check's outcomes: the latest one
    counts. Repeating the latest outcome writes nothing (200); one that contradicts it is
    recorded and reported under ``conflict``.
    """
    recorded = request.app.state.checker.record_outcome(
        body.check_id, body.outcome, body.reason, client=request.state.client,
        channel=Channel.HTTP, any_check=may_record_any(request))
    reply: dict[str, Any] = {"check_id": body.check_id, "outcome": body.outcome,
                             "decided_at": utc_text(recorded.decided_at),
                             "recorded": recorded.written}
    if (replaced := conflict(recorded)) is not None:
        reply["conflict"] = replaced
    return json_response(reply, 201 if recorded.written else 200)


@router.get("/v1/studies/{study_uid}", tags=["checks"], responses=_ERRORS)
def get_study(request: Request, study_uid: str) -> Response:
    """One archived study's metadata (no patient data)."""
    row = request.app.state.studies.get(study_uid[:128])
    if row is None:
        raise ApiError(404, "not-found", "no study with that StudyInstanceUID")
    if not request.app.state.checker.settings.check_show_locations:
        row.pop("first_instance_location", None)
    return json_response(row, headers=_NO_STORE)


def _answer(request: Request, fields: dict[str, Any]) -> Response:
    checker: Checker = request.app.state.checker
    question = checker.parse(**{k: v or ("" if k not in _NULLABLE else None)
                                for k, v in fields.items()})
    result = checker.check(question, client=request.state.client, channel=Channel.HTTP)
    answer = result.as_dict()
    if not checker.settings.check_show_locations:
        for prior in answer["priors"]:
            del prior["location"]
    return json_response(answer, headers=_NO_STORE)


_NULLABLE = frozenset({"name", "birth_date", "sex", "order_date", "within_days"})


def _problem(error: Any) -> str:
    """One validation problem as ``field: message``, never echoing the input (it may be PHI)."""
    if error.get("type") == "json_invalid":
        return "body: not valid JSON"
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


def _message(exc: Exception) -> tuple[int, str, str, tuple[str, ...]]:
    """Status, code, message and problems for an exception (never its traceback)."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message, exc.problems
    if isinstance(exc, RequestValidationError):
        return 400, "invalid-request", "the request is not valid", tuple(
            _problem(e) for e in exc.errors())
    if isinstance(exc, UnknownCheck):
        return 404, "not-found", str(exc), ()
    if isinstance(exc, NotYourCheck):
        return 403, "forbidden", str(exc), ()
    if isinstance(exc, ContradictoryDecisions):
        return 409, "conflict", str(exc), ()
    if isinstance(exc, UsageError):
        return 400, "invalid-request", "the question is not valid", tuple(str(exc).split("; "))
    if isinstance(exc, ArchiveError):
        return 503, "unavailable", ("no published archive to answer from yet; retry after the "
                                    "batch has published"), ()
    if isinstance(exc, StorageError):
        log.error("check log: %s", exc)
        return 503, "unavailable", "the check log cannot be written; nothing was answered", ()
    if isinstance(exc, StarletteHTTPException):
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return exc.status_code, code, str(exc.detail), ()
    log.error("unexpected %s", type(exc).__name__)
    return 500, "internal-error", "internal error", ()


_ERROR_REPLIES = (ApiError, RequestValidationError, UsageError, ArchiveError, StorageError,
                  StarletteHTTPException, Exception)


async def _reply(request: Request, exc: Exception) -> Response:
    """The one error shape for every failure (OperationOutcome too under /cds-services)."""
    status, code, message, problems = _message(exc)
    path = request.url.path
    return json_response(error_body(status, code, message, problems, cds=is_cds(path),
                                    fhir=is_fhir(path)), status,
                         media_type=FHIR_JSON if is_fhir(path) else "application/json")
