"""The REST API (JSON, OpenAPI at /api/openapi.json). Scripts authenticate with
`Authorization: Bearer <token>` (`threatwatch user token NAME`); the desk's own pages call it
with the session cookie and the CSRF header."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import msgspec
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from .. import report as rep
from ..store.sql import SQLStore, parse_week
from . import data
from .accounts import AccountError, User, add_user, list_users
from .app import need

router = APIRouter()


def _store(request: Request) -> SQLStore:
    return request.app.state.store  # type: ignore[no-any-return]


def _alert_json(a: Any) -> dict[str, Any]:
    """An alert for the API, without the post's sentiment: sentiment leaves the store only as
    aggregates, never tied to one post and its author."""
    d: dict[str, Any] = msgspec.to_builtins(a)
    d.pop("sentiment", None)
    return d


@router.get("/healthz", tags=["meta"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness and store reachability; the one route (with /login) that needs no login."""
    try:
        _store(request).query("SELECT 1")
    except Exception:  # noqa: BLE001 - report, do not crash
        return JSONResponse({"ok": False, "store": "unreachable"}, status_code=503)  # type: ignore[return-value]
    return {"ok": True}


@router.get("/api/me", tags=["meta"])
def me(request: Request, user: User = need("viewer")) -> dict[str, Any]:
    c = request.state.caller
    return {"name": user.name, "role": user.role, "via": c.via, "csrf": c.session.csrf if c.session else None}


@router.get("/api/facets", tags=["meta"])
def api_facets(request: Request, user: User = need("viewer")) -> dict[str, list[str]]:
    """Targets, languages, platforms and statuses, for filter menus."""
    return data.facets(_store(request))


# -- alerts ---------------------------------------------------------------------------------
@router.get("/api/alerts", tags=["alerts"])
def api_alerts(request: Request, user: User = need("reviewer"), status: str | None = None,
               target: str | None = None, lang: str | None = None, platform: str | None = None,
               limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)) -> list[dict[str, Any]]:
    """The review queue: undecided first, then highest score, then newest."""
    if status and status not in data.STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(data.STATUSES)}")
    rows = data.alert_queue(_store(request), status=status, target=target, lang=lang, platform=platform,
                            limit=limit, offset=offset)
    return [_alert_json(a) for a in rows]


@router.get("/api/alerts/{alert_id}", tags=["alerts"])
def api_alert(alert_id: int, request: Request, user: User = need("reviewer")) -> dict[str, Any]:
    """One alert with its evidence (viewing is audited)."""
    st = _store(request)
    a = st.get_alert(alert_id)
    if a is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    st.audit(user.name, "alert.view", f"alert:{alert_id}", "api")
    return _alert_json(a)


class DecisionIn(BaseModel):
    decision: Literal["credible", "not_a_threat", "escalated"]
    reason: Literal["hyperbole", "satire", "news", "quote", "off_target", "other"] | None = None
    note: str | None = Field(None, max_length=4000)


@router.post("/api/alerts/{alert_id}/decision", tags=["alerts"])
def api_decide(alert_id: int, body: DecisionIn, request: Request, user: User = need("reviewer")) -> dict[str, Any]:
    """Decide an alert: credible, not_a_threat (needs a reason: hyperbole, satire, news, quote,
    off_target, other) or escalated, with an optional note. Audited."""
    try:
        a = _store(request).decide(alert_id, body.decision, reviewer=user.name, reason=body.reason, note=body.note)
    except KeyError:
        raise HTTPException(404, f"no alert with id {alert_id}") from None
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return _alert_json(a)


@router.get("/api/decisions.jsonl", tags=["alerts"], response_class=PlainTextResponse)
def api_decisions_jsonl(request: Request, user: User = need("reviewer"), since: str | None = None) -> Response:
    """Decided alerts as labelled data (one JSON object per line) for retraining. Audited."""
    st = _store(request)
    body = data.decisions_jsonl(st, since)
    st.audit(user.name, "export", "decisions.jsonl", f"{body.count(chr(10))} rows" + (f" since {since}" if since else ""))
    return Response(body, media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="decisions.jsonl"'})


@router.get("/api/decisions.csv", tags=["alerts"], response_class=PlainTextResponse)
def api_decisions_csv(request: Request, user: User = need("reviewer"), since: str | None = None) -> Response:
    """Decided alerts as labelled data (CSV). Audited."""
    st = _store(request)
    body = data.decisions_csv(st, since)
    st.audit(user.name, "export", "decisions.csv",
             f"{max(body.count(chr(10)) - 1, 0)} rows" + (f" since {since}" if since else ""))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="decisions.csv"'})


# -- charts, spikes, reports ---------------------------------------------------------------------
@router.get("/api/overview", tags=["charts"])
def api_overview(request: Request, user: User = need("viewer"), granularity: str = "day",
                 days: int = Query(28, ge=1, le=400), end: date | None = None, lang: str | None = None,
                 platform: str | None = None) -> dict[str, Any]:
    """Per target and day (or ISO week): mentions by sentiment, alerts, and spikes (aggregates only)."""
    try:
        return data.overview(_store(request), granularity=granularity, days=days, end=end, lang=lang or None,
                             platform=platform or None)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None


@router.get("/api/spikes", tags=["charts"])
def api_spikes(request: Request, user: User = need("viewer"), granularity: str = "day",
               days: int = Query(28, ge=1, le=400), end: date | None = None, target: str | None = None,
               lang: str | None = None, platform: str | None = None) -> list[dict[str, Any]]:
    """Buckets far above the target's own seasonal baseline (see docs/spikes.md)."""
    try:
        return data.spikes(_store(request), granularity=granularity, days=days, end=end, target=target,
                           lang=lang, platform=platform)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None


@router.get("/api/report", tags=["reports"])
def api_report(request: Request, week: str | None = None, user: User = need("viewer")) -> dict[str, Any]:
    """The weekly report's data (same JSON as `threatwatch report --format json`); default: the
    week of the latest data."""
    wk = week or rep.current_week(data.latest_day(_store(request)))
    try:
        parse_week(wk)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return rep.weekly(_store(request), wk)


# -- admin ----------------------------------------------------------------------------------------
@router.get("/api/audit", tags=["admin"])
def api_audit(request: Request, user: User = need("admin"), actor: str | None = None, action: str | None = None,
              object: str | None = None, limit: int = Query(200, ge=1, le=5000),
              offset: int = Query(0, ge=0)) -> list[dict[str, Any]]:
    """The append-only audit log, newest first; filter by actor, action (prefix) and object."""
    return data.audit_entries(_store(request), actor=actor, action=action, obj=object, limit=limit, offset=offset)


@router.get("/api/users", tags=["admin"])
def api_users(request: Request, user: User = need("admin")) -> list[dict[str, Any]]:
    return list_users(_store(request))


class UserIn(BaseModel):
    name: str
    role: Literal["viewer", "reviewer", "admin"]
    password: str


@router.post("/api/users", tags=["admin"], status_code=201)
def api_add_user(body: UserIn, request: Request, user: User = need("admin")) -> dict[str, Any]:
    """Create an account (roles: viewer, reviewer, admin). Audited."""
    try:
        u = add_user(_store(request), body.name, body.role, body.password, actor=user.name)
    except AccountError as e:
        raise HTTPException(422, str(e)) from None
    return {"name": u.name, "role": u.role}

