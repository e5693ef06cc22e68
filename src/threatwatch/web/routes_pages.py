"""The desk's HTML pages (Jinja2). Every form carries the CSRF token; every page needs a login."""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from .. import report as rep
from ..store.sql import DECISIONS, REASONS, SQLStore, parse_week
from . import data
from .accounts import (
    ROLES,
    SESSION_TTL,
    AccountError,
    LoginLocked,
    User,
    add_user,
    authenticate,
    end_session,
    list_users,
    new_session,
    set_disabled,
    set_role,
)
from .app import LOGIN_CSRF_COOKIE, SESSION_COOKIE, caller, need

router = APIRouter(include_in_schema=False)

REASON_LABELS = {"hyperbole": "hyperbole", "satire": "satire", "news": "news report", "quote": "quoting to condemn",
                 "off_target": "off-target", "other": "other"}
SETTINGS = {  # retention settings an admin may change: key -> (label, default, min, max)
    "retention.alerts_decided_days": ("Keep decided alerts (days)", 365, 1, 3650),
    "retention.rejects_days": ("Keep rejected-input records (days)", 30, 1, 3650),
    "retention.aggregates_days": ("Keep hourly aggregates (days)", 730, 30, 3650),
}


def _store(request: Request) -> SQLStore:
    return request.app.state.store  # type: ignore[no-any-return]


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    c = caller(request)
    base = {"user": c.user, "csrf": c.session.csrf if c.session else "", "path": request.url.path}
    return request.app.state.templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)


def _safe_next(nxt: str | None) -> str:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
        return nxt
    return "/"


# -- login ------------------------------------------------------------------------------------
def _login_page(request: Request, error: str = "", status: int = 200, nxt: str = "/") -> Response:
    # Reuse the browser's login token if it has one: a second GET (another tab, the favicon
    # request redirected here) must not invalidate the form already on screen.
    old = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = old if 20 <= len(old) <= 64 and old.replace("-", "").replace("_", "").isalnum() else secrets.token_urlsafe(24)
    resp = request.app.state.templates.TemplateResponse(
        request, "login.html", {"user": None, "csrf": token, "error": error, "next": nxt, "path": "/login"},
        status_code=status)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=request.app.state.secure_cookies,
                    max_age=3600, path="/login")
    return resp


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if caller(request).user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, nxt=_safe_next(next))


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
          next: str = Form("/")) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(request, "The form expired; please try again.", 403, _safe_next(next))
    st = _store(request)
    ip = request.client.host if request.client else ""
    try:
        user = authenticate(st, username.strip(), password, ip=ip)
    except LoginLocked:
        return _login_page(request, "Too many failed attempts. Try again in 15 minutes.", 429, _safe_next(next))
    if user is None:
        return _login_page(request, "Wrong user name or password.", 401, _safe_next(next))
    token, _ = new_session(st, user)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=request.app.state.secure_cookies,
                    max_age=int(SESSION_TTL.total_seconds()), path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, user: User = need("viewer")) -> Response:
    tok = request.cookies.get(SESSION_COOKIE, "")
    if tok:
        end_session(_store(request), tok)
    _store(request).audit(user.name, "logout")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# -- overview ---------------------------------------------------------------------------------
@router.get("/")
def overview(request: Request, user: User = need("viewer"), lang: str = "", platform: str = "",
             granularity: str = "day") -> Response:
    st = _store(request)
    f = data.facets(st)
    gran = granularity if granularity in ("day", "week") else "day"
    return render(request, "overview.html", {"facets": f, "lang": lang, "platform": platform, "granularity": gran,
                                             "days": request.app.state.days})


# -- alerts -----------------------------------------------------------------------------------
@router.get("/alerts")
def alerts_page(request: Request, user: User = need("reviewer"), status: str = "", target: str = "",
                lang: str = "", platform: str = "", page: int = 1) -> Response:
    st = _store(request)
    page = max(page, 1)
    per = 50
    rows = data.alert_queue(st, status=status or None, target=target or None, lang=lang or None,
                            platform=platform or None, limit=per + 1, offset=(page - 1) * per)
    return render(request, "alerts.html", {"alerts": rows[:per], "more": len(rows) > per, "page": page,
                                           "facets": data.facets(st),
                                           "f": {"status": status, "target": target, "lang": lang, "platform": platform}})


@router.get("/alerts/{alert_id}")
def alert_page(alert_id: int, request: Request, user: User = need("reviewer")) -> Response:
    st = _store(request)
    a = st.get_alert(alert_id)
    if a is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    st.audit(user.name, "alert.view", f"alert:{alert_id}", "page")
    return render(request, "alert.html", {"a": a, "segments": data.highlight(a.text, a.cues),
                                          "decisions": DECISIONS, "reasons": REASONS, "reason_labels": REASON_LABELS})


@router.post("/alerts/{alert_id}/decide")
def decide(alert_id: int, request: Request, user: User = need("reviewer"), decision: str = Form(...),
           reason: str = Form(""), note: str = Form("")) -> Response:
    st = _store(request)
    try:
        st.decide(alert_id, decision, reviewer=user.name, reason=reason or None, note=note.strip() or None)
    except KeyError:
        raise HTTPException(404, f"no alert with id {alert_id}") from None
    except ValueError as e:
        a = st.get_alert(alert_id)
        return render(request, "alert.html", {"a": a, "segments": data.highlight(a.text, a.cues) if a else [],
                                              "decisions": DECISIONS, "reasons": REASONS,
                                              "reason_labels": REASON_LABELS, "error": str(e)}, status=422)
    nxt = data.alert_queue(st, status="new", limit=1)
    return RedirectResponse(f"/alerts/{nxt[0].id}?decided={alert_id}" if nxt else f"/alerts?decided={alert_id}",
                            status_code=303)


# -- reports ------------------------------------------------------------------------------------
@router.get("/reports")
def reports_page(request: Request, user: User = need("viewer"), week: str = "") -> Response:
    st = _store(request)
    wk = week or rep.current_week(data.latest_day(st))
    try:
        parse_week(wk)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    d = rep.weekly(st, wk)
    return render(request, "reports.html", {"week": wk, "report": d})


@router.get("/export/report")
def export_report(request: Request, user: User = need("viewer"), week: str = "", format: str = "pdf") -> Response:
    """Download the weekly report (pdf, html, csv or json). Audited as an export."""
    st = _store(request)
    wk = week or rep.current_week(data.latest_day(st))
    try:
        parse_week(wk)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    d = rep.weekly(st, wk)
    st.audit(user.name, "export", f"report:{wk}", format)
    name = f"threatwatch-{wk}.{format}"
    disp = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "pdf":
        from ..report_pdf import render_pdf

        return Response(render_pdf(st, d), media_type="application/pdf", headers=disp)
    types = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}
    if format not in types:
        raise HTTPException(422, "format must be pdf, html, csv or json")
    return Response(rep.render(d, format), media_type=types[format], headers=disp)


# -- admin ----------------------------------------------------------------------------------------
@router.get("/admin/users")
def users_page(request: Request, user: User = need("admin"), error: str = "", done: str = "") -> Response:
    return render(request, "users.html", {"users": list_users(_store(request)), "roles": ROLES, "error": error,
                                          "done": done})


@router.post("/admin/users")
def users_add(request: Request, user: User = need("admin"), name: str = Form(...), role: str = Form(...),
              password: str = Form(...)) -> Response:
    try:
        add_user(_store(request), name.strip(), role, password, actor=user.name)
    except AccountError as e:
        return render(request, "users.html", {"users": list_users(_store(request)), "roles": ROLES,
                                              "error": str(e), "done": ""}, status=422)
    return RedirectResponse(f"/admin/users?done=created+{name.strip()}", status_code=303)


@router.post("/admin/users/{name}")
def users_change(name: str, request: Request, user: User = need("admin"), role: str = Form(""),
                 action: str = Form("")) -> Response:
    st = _store(request)
    try:
        if action in ("disable", "enable"):
            if name == user.name:
                raise AccountError("you cannot disable your own account")
            set_disabled(st, name, action == "disable", actor=user.name)
        elif role:
            set_role(st, name, role, actor=user.name)
    except AccountError as e:
        return render(request, "users.html", {"users": list_users(st), "roles": ROLES, "error": str(e), "done": ""},
                      status=422)
    return RedirectResponse("/admin/users?done=saved", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request, user: User = need("admin"), page: int = 1, actor: str = "", action: str = "",
               object: str = "") -> Response:
    page = max(page, 1)
    rows = data.audit_entries(_store(request), actor=actor or None, action=action or None, obj=object or None,
                              limit=201, offset=(page - 1) * 200)
    return render(request, "audit.html", {"rows": rows[:200], "more": len(rows) > 200, "page": page,
                                          "f": {"actor": actor, "action": action, "object": object}})


@router.get("/admin/watchlist")
def watchlist_page(request: Request, user: User = need("admin")) -> Response:
    st = _store(request)
    wl_path = request.app.state.watchlist
    targets: list[dict[str, Any]] = []
    error = ""
    if wl_path:
        from ..config import ConfigError, load_watchlist

        try:
            wl = load_watchlist(Path(wl_path))
            targets = [{"name": t.name, "kind": t.kind, "description": t.description, "aliases": list(t.aliases),
                        "aliases_by_lang": dict(t.aliases_by_lang), "threshold": t.threshold} for t in wl.targets]
        except ConfigError as e:
            error = str(e)
    known = data.facets(st)["targets"]
    return render(request, "watchlist.html", {"targets": targets, "known": known, "wl_path": wl_path, "error": error})


def _settings(st: SQLStore) -> list[dict[str, Any]]:
    out = []
    for key, (label, default, lo, hi) in SETTINGS.items():
        val = st.get_meta(key)
        out.append({"key": key, "label": label, "value": int(val) if val else default, "min": lo, "max": hi})
    return out


@router.get("/admin/settings")
def settings_page(request: Request, user: User = need("admin"), done: str = "") -> Response:
    return render(request, "settings.html", {"settings": _settings(_store(request)), "error": "", "done": done})


@router.post("/admin/settings")
async def settings_save(request: Request, user: User = need("admin")) -> Response:
    st = _store(request)
    form = await request.form()
    changed = {}
    for key, (label, _default, lo, hi) in SETTINGS.items():
        raw = str(form.get(key, "")).strip()
        if not raw:
            continue
        try:
            val = int(raw)
            if not lo <= val <= hi:
                raise ValueError
        except ValueError:
            return render(request, "settings.html", {"settings": _settings(st), "done": "",
                                                     "error": f"{label} ({key}): a whole number from {lo} to {hi}"},
                          status=422)
        if st.get_meta(key) != str(val):
            changed[key] = val
    for key, val in changed.items():
        st.set_meta(key, str(val))
    if changed:
        st.audit(user.name, "settings.change", "retention", json.dumps(changed))
    return RedirectResponse("/admin/settings?done=saved", status_code=303)


@router.get("/api-docs")
def api_docs(request: Request, user: User = need("viewer")) -> Response:
    """A plain, offline rendering of the OpenAPI document (no CDN-hosted Swagger UI)."""
    spec = request.app.openapi()
    ops = []
    for path, methods in sorted(spec.get("paths", {}).items()):
        for method, op in methods.items():
            params = [p["name"] for p in op.get("parameters", [])]
            ops.append({"method": method.upper(), "path": path, "summary": op.get("description") or op.get("summary", ""),
                        "tag": (op.get("tags") or [""])[0], "params": params})
    return render(request, "api_docs.html", {"ops": ops})
