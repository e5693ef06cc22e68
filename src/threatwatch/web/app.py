"""The review desk's FastAPI application: login gate, roles, CSRF, security headers.

Everything is closed by default: a middleware resolves the caller (session cookie or
`Authorization: Bearer` token) before any route runs, and only the login page, its own static
assets and /healthz answer without one; pages redirect to /login, everything else answers 401.
Roles are then checked per route (viewer < reviewer < admin). A state-changing request made
with a session cookie must carry the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`); token-authenticated scripts send no cookie, so they need none.
"""

from __future__ import annotations

import hmac
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..store import open_store
from ..store.sql import SQLStore
from .accounts import Session, User, get_session, token_user

SESSION_COOKIE = "tw_session"
LOGIN_CSRF_COOKIE = "tw_login_csrf"
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/static/public/",)
# Paths answered with 401 rather than a redirect: the API, exports and non-public static files.
API_PREFIXES = ("/api/", "/export/", "/static/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

HERE = Path(str(resources.files("threatwatch.web")))


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path == "/api"


class Caller:
    """Who is asking and how: via 'session' (cookie) or 'token' (Bearer)."""

    def __init__(self, user: User | None, via: str | None, session: Session | None) -> None:
        self.user, self.via, self.session = user, via, session


def _resolve(store: SQLStore, request: Request) -> Caller:
    authz = request.headers.get("authorization", "")
    if authz[:7].lower() == "bearer ":
        return Caller(token_user(store, authz[7:].strip()), "token", None)
    tok = request.cookies.get(SESSION_COOKIE, "")
    sess = get_session(store, tok) if tok else None
    return Caller(sess.user if sess else None, "session" if sess else None, sess)


def caller(request: Request) -> Caller:
    return request.state.caller  # type: ignore[no-any-return]


def need(role: str) -> Any:
    """Route dependency: the caller's role must be at least `role`."""

    def dep(request: Request) -> User:
        c = caller(request)
        if c.user is None:
            raise HTTPException(401, "login required")
        if not c.user.can(role):
            raise HTTPException(403, f"needs the {role} role")
        return c.user

    return Depends(dep)


def web_link(url: object) -> str | None:
    """Only http(s) links become clickable: a post's URL comes from an input file and
    `javascript:` or `data:` there would run in a reviewer's session."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


async def check_csrf(request: Request) -> None:
    """App-wide dependency: cookie-authenticated writes must carry the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    c = caller(request)
    if c.via != "session" or c.session is None:
        return  # token callers send no cookie; the login form has its own check
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
    if not sent or not hmac.compare_digest(sent, c.session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


def create_app(store: str | SQLStore, *, secure_cookies: bool = False, watchlist: str | None = None,
               days: int = 28) -> FastAPI:
    """Build the desk over a store (URL/path or an open store). `secure_cookies` marks cookies
    Secure: set it when users reach the desk over https (behind a TLS proxy)."""
    st = open_store(store) if isinstance(store, str) else store
    app = FastAPI(title="threatwatch review desk", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", dependencies=[Depends(check_csrf)])
    app.state.store = st
    app.state.secure_cookies = secure_cookies
    app.state.watchlist = watchlist
    app.state.days = days
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["web_link"] = web_link
    app.state.templates = templates

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        c = await run_in_threadpool(_resolve, st, request)
        request.state.caller = c
        if c.user is None and not is_public(path):
            if is_api(path):
                resp: Response = JSONResponse({"detail": "login required"}, status_code=401,
                                              headers={"WWW-Authenticate": 'Bearer realm="threatwatch"'})
            else:
                nxt = path + (f"?{request.url.query}" if request.url.query else "")
                resp = RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)
        else:
            resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if not path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if is_api(path) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        c = getattr(request.state, "caller", None)
        ctx = {"status": exc.status_code, "detail": exc.detail, "user": c.user if c else None,
               "csrf": c.session.csrf if c and c.session else "", "path": request.url.path}
        return templates.TemplateResponse(request, "error.html", ctx, status_code=exc.status_code)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from . import routes_api, routes_pages

    app.include_router(routes_pages.router)
    app.include_router(routes_api.router)
    return app
