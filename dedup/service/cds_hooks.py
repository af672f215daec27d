"""CDS Hooks 2.0 service: warn at ``order-select`` and ``order-sign`` when a prior exists.

Discovery (``GET /cds-services``) lists two services, one per hook, each asking the client to
prefetch the Patient. A call reads the patient's demographics from ``prefetch.patient`` and the
imaging orders from ``context.draftOrders`` (a FHIR Bundle; ServiceRequest entries, for
``order-select`` only those in ``context.selections``), runs one :meth:`Checker.check` per
order, and answers with one card per order that has priors: indicator ``warning``, a summary
under 140 characters, the priors in the detail (Markdown), links to each prior, a suggestion
to withdraw the draft order, and override reasons. Orders that are not a known imaging
procedure (a medication, a diet, a lab test) are skipped; no prior, no card. A call checks
at most ``check_max_orders`` orders (400 beyond). Where the images are (a path) appears in
the card only when ``check_show_locations`` is on.

The card's ``uuid`` is the check ID, so ``POST /cds-services/{id}/feedback`` records
``accepted`` as ``withdrawn`` and ``overridden`` as ``ordered-anyway`` with the override
reason, like ``POST /v1/outcomes`` and under the same rules (:mod:`dedup.check.outcome`): only
the caller that asked records a card's outcome, the server's clock orders them
(``outcomeTimestamp`` is kept as reported), and the reply counts what was ``recorded``, what
repeated the latest outcome (``unchanged``) and lists the ``conflicts``. This service never
calls the client's FHIR server: without the prefetched Patient it answers 412, as the
specification provides.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from dedup.check import Channel, Checker, CheckResult, Prior, demographic_problems
from dedup.check.outcome import ContradictoryDecisions, Decision, NotYourCheck, Recorded
from dedup.check.question import Outcome
from dedup.check.strict import instant
from dedup.errors import UsageError
from dedup.match.regions import LATERALITY_CODES
from dedup.service.guard import ApiError, json_response
from dedup.service.outcomes import conflict, may_record_any

router = APIRouter(tags=["cds-hooks"])

#: Service id -> hook.
SERVICES: dict[str, str] = {"dedup-prior-imaging-select": "order-select",
                            "dedup-prior-imaging-sign": "order-sign"}
_SOURCE = {"label": "dedup: prior imaging in the shared archive",
           "topic": {"system": "urn:dedup:cds-topic", "code": "prior-imaging",
                     "display": "Prior imaging of the same kind"}}
_OVERRIDES = [
    {"system": "urn:dedup:override-reason", "code": code, "display": display}
    for code, display in (
        ("clinical-change", "Clinical status changed since the prior study"),
        ("prior-inadequate", "Prior study inadequate or non-diagnostic"),
        ("prior-unavailable", "Prior images cannot be obtained in time"),
        ("different-question", "Different clinical question"),
        ("not-same-patient", "The prior belongs to another patient"),
    )]
_GENDER = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
#: CDS Hooks feedback outcome -> the check log's outcome.
_OUTCOMES = {"accepted": Outcome.WITHDRAWN, "overridden": Outcome.ORDERED_ANYWAY}


class HookRequest(BaseModel):
    """A CDS Hooks service request (only the fields this service reads are checked)."""

    model_config = ConfigDict(extra="allow")
    hook: str
    hookInstance: str = Field(max_length=128)
    fhirServer: str | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class FeedbackItem(BaseModel):
    """One card's outcome."""

    model_config = ConfigDict(extra="allow")
    card: str = Field(max_length=64)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] | None = None
    overrideReason: dict[str, Any] | None = None
    outcomeTimestamp: str = Field(max_length=40)


class FeedbackRequest(BaseModel):
    """The feedback endpoint's body."""

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


def _json(data: Any) -> Response:
    return json_response(data, headers={"cache-control": "no-store"})


@router.get("/cds-services")
async def discovery() -> Response:
    """The CDS Services this server offers."""
    return _json({"services": [
        {"hook": hook, "id": service_id, "title": "Prior imaging check",
         "description": "Warns when the patient already has a study of the ordered "
                        "procedure family inside its look-back window, anywhere in the "
                        "shared archive.",
         "prefetch": {"patient": "Patient/{{context.patientId}}"},
         "usageRequirements": "Needs the prefetched Patient (name, birthDate, gender); "
                              "the service does not query the FHIR server."}
        for service_id, hook in SERVICES.items()]})


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request, body: HookRequest) -> Response:
    """Run the check for each imaging order and answer with cards."""
    hook = SERVICES.get(service_id)
    if hook is None:
        raise ApiError(404, "not-found", f"no CDS service {service_id[:64]!r}; see "
                       "GET /cds-services")
    if body.hook != hook:
        raise ApiError(400, "invalid-request", f"service {service_id} answers the {hook} "
                       f"hook, not {body.hook[:32]!r}")
    patient = _patient(body.prefetch)
    orders = _orders(body.context, hook)
    checker: Checker = request.app.state.checker
    most = checker.settings.check_max_orders
    if len(orders) > most:
        raise ApiError(400, "invalid-request", f"context.draftOrders holds {len(orders)} orders "
                       f"to check; this service checks at most {most} per call (setting "
                       "check_max_orders): send the imaging orders being signed or selected")
    user = body.context.get("userId")
    client = request.state.client + (f" {user[:80]}" if isinstance(user, str) else "")
    cards = []
    for order in orders:
        try:
            question = checker.parse(**patient, **_order_fields(order))
        except UsageError:
            continue  # not an imaging procedure this archive knows: no opinion
        result = checker.check(question, client=client, channel=Channel.CDS_HOOKS)
        if result.priors:
            cards.append(_card(result, order, str(request.base_url),
                               checker.settings.check_show_locations))
    return _json({"cards": cards})


@router.post("/cds-services/{service_id}/feedback")
async def feedback(service_id: str, request: Request, body: FeedbackRequest) -> Response:
    """Record accepted (withdrawn) and overridden (ordered anyway) outcomes."""
    if service_id not in SERVICES:
        raise ApiError(404, "not-found", f"no CDS service {service_id[:64]!r}")
    checker: Checker = request.app.state.checker
    unknown = [f"feedback[{n}].card: no card with that uuid was issued by this service"
               for n, item in enumerate(body.feedback)
               if checker.log is None or not checker.log.has_check(item.card)]
    if unknown:
        raise ApiError(404, "not-found", "unknown card", unknown)
    problems = [p for n, item in enumerate(body.feedback) for p in _feedback_problems(n, item)]
    if problems:
        raise ApiError(400, "invalid-request", "the feedback is not valid; none was recorded",
                       problems)
    decisions = [Decision(item.card, _OUTCOMES[item.outcome], _reason(item.overrideReason),
                          instant(item.outcomeTimestamp)) for item in body.feedback]
    try:
        recorded = checker.record_outcomes(decisions, client=request.state.client,
                                           channel=Channel.CDS_HOOKS,
                                           any_check=may_record_any(request))
    except (NotYourCheck, ContradictoryDecisions) as exc:
        status, code = (403, "forbidden") if isinstance(exc, NotYourCheck) else (409, "conflict")
        raise ApiError(status, code, str(exc), [
            f"feedback[{n}].card" for n, item in enumerate(body.feedback)
            if item.card in exc.check_ids]) from None
    return _json(_feedback_reply(recorded))


def _feedback_reply(recorded: list[Recorded]) -> dict[str, Any]:
    """How many were written, how many repeated the latest, and the conflicts."""
    words = {str(outcome): word for word, outcome in _OUTCOMES.items()}
    return {"recorded": sum(r.written for r in recorded),
            "unchanged": sum(not r.written for r in recorded),
            "conflicts": [{"card": r.check_id, **replaced} for r in recorded
                          if (replaced := conflict(r, words)) is not None]}


def _patient(prefetch: dict[str, Any] | None) -> dict[str, str]:
    """Demographics from the prefetched Patient (412 when missing, 400 when incomplete)."""
    patient = (prefetch or {}).get("patient")
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise ApiError(412, "precondition-failed", "prefetch.patient (the FHIR Patient) is "
                       "required; this service does not query the FHIR server")
    names = [n for n in _list(patient.get("name")) if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = [g for g in _list(name.get("given")) if isinstance(g, str)]
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    fields = {"name": "^".join([family or "", *given[:1], " ".join(given[1:])]).rstrip("^"),
              "birth_date": str(patient.get("birthDate") or ""),
              "sex": _GENDER.get(str(patient.get("gender") or ""), "")}
    problems = demographic_problems(**fields)
    if problems:
        raise ApiError(400, "invalid-request", "prefetch.patient lacks demographics the "
                       "check needs", [f"patient {p}" for p in problems])
    return fields


def _orders(context: dict[str, Any], hook: str) -> list[dict[str, Any]]:
    """The ServiceRequests of ``draftOrders`` to check (the selected ones for order-select)."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ApiError(400, "invalid-request", "context.draftOrders must be a FHIR Bundle")
    selections = context.get("selections")
    if hook == "order-select" and not (isinstance(selections, list) and selections):
        raise ApiError(400, "invalid-request", "context.selections is required for "
                       "order-select: the ids of the newly selected orders")
    resources = [e.get("resource") for e in _list(bundle.get("entry")) if isinstance(e, dict)]
    orders = [r for r in resources
              if isinstance(r, dict) and r.get("resourceType") == "ServiceRequest"]
    if hook == "order-select":
        wanted = {s for s in _list(selections) if isinstance(s, str)}
        orders = [r for r in orders if f"ServiceRequest/{r.get('id')}" in wanted]
    return orders


def _obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (FHIR input is untrusted)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def _order_fields(order: dict[str, Any]) -> dict[str, str]:
    """Procedure code, text, body site (with its SNOMED CT laterality) and date."""
    concept = _obj(order.get("code"))
    codings = [c for c in _list(concept.get("coding")) if isinstance(c, dict)]
    text = concept.get("text") or next((c.get("display") for c in codings
                                        if c.get("display")), "")
    sites = [s for s in _list(order.get("bodySite")) if isinstance(s, dict)]
    site = next((s.get("text") or next((c.get("display") for c in _list(s.get("coding"))
                                        if isinstance(c, dict) and c.get("display")), "")
                 for s in sites), "")
    side = next((c.get("code") for s in sites for c in _list(s.get("coding"))
                 if isinstance(c, dict) and str(c.get("code")) in LATERALITY_CODES), "")
    when = order.get("occurrenceDateTime") or _obj(order.get("occurrencePeriod")).get("start")
    when = when if isinstance(when, str) else ""
    return {"code": str(next((c.get("code") for c in codings if c.get("code")), ""))[:64],
            "description": str(text)[:200], "body_part": str(site or "")[:80],
            "laterality": str(side),
            "order_date": str(when)[:10] or None}  # type: ignore[dict-item]


def _card(result: CheckResult, order: dict[str, Any], base_url: str, locations: bool
          ) -> dict[str, Any]:
    latest = result.priors[0]
    where = f" at {latest.institution}" if latest.institution else ""
    summary = f"Possible repeat {result.family}: prior {_ago(latest)}{where}"
    if len(result.priors) > 1:
        summary += f" (+{len(result.priors) - 1} more)"
    links = [{"label": f"Prior {p.family} of {p.study_date.isoformat()}"
                       + (f" ({p.institution})" if p.institution else ""),
              "url": p.viewer_url or f"{base_url}v1/studies/{quote(p.study_uid, safe='')}",
              "type": "absolute"} for p in result.priors[:5]]
    return {
        "uuid": result.check_id, "summary": summary[:139], "indicator": "warning",
        "detail": _detail(result, locations), "source": _SOURCE,
        "suggestions": [{"label": "Withdraw this order", "uuid": str(uuid.uuid4()),
                         "isRecommended": True,
                         "actions": [{"type": "delete",
                                      "description": "Withdraw the draft imaging order",
                                      "resourceId": f"ServiceRequest/{order.get('id')}"}]}],
        "selectionBehavior": "at-most-one", "overrideReasons": _OVERRIDES, "links": links}


def _detail(result: CheckResult, locations: bool) -> str:
    """The card's Markdown: the recommendation, the window and a table of the priors.

    The images' location (a path, which can hold names or IDs) is a column only when the
    ``check_show_locations`` setting is on.
    """
    rows = [[p.study_date.isoformat(), str(p.days_ago), p.institution or "",
             f"`{p.study_uid}`", *([p.location or "not recorded"] if locations else []),
             f"{p.link_probability:.4f}: {', '.join(p.link_reasons)}"] for p in result.priors]
    header = ["date", "days ago", "institution", "study UID", *(["images"] if locations else []),
              "patient match"]
    return "\n".join([
        f"{result.recommendation}", "",
        f"Look-back window for {result.family}: {result.window_days} days.", "",
        *(f"| {' | '.join(cells)} |" for cells in (header, ["---"] * len(header), *rows))])


def _ago(prior: Prior) -> str:
    days = prior.days_ago
    return "today" if days == 0 else f"{abs(days)} day{'s' if abs(days) != 1 else ''} " \
        + ("ago" if days > 0 else "after the order date")


def _feedback_problems(n: int, item: FeedbackItem) -> list[str]:
    where = f"feedback[{n}]"
    problems = []
    if item.outcome == "accepted" and not item.acceptedSuggestions:
        problems.append(f"{where}.acceptedSuggestions is required for an accepted outcome")
    try:
        instant(item.outcomeTimestamp)
    except ValueError as exc:
        problems.append(f"{where}.outcomeTimestamp {exc}")
    return problems


def _reason(override: dict[str, Any] | None) -> str | None:
    if not override:
        return None
    coding = _obj(override.get("reason"))
    label = coding.get("display") or coding.get("code") or ""
    comment = override.get("userComment") if isinstance(override.get("userComment"),
                                                        str) else ""
    return ": ".join(str(part) for part in (label, comment) if part) or None
