"""CLI commands for the desk: `serve`, `user add|list|token|disable`, `spikes` and `retention`."""

from __future__ import annotations

import getpass
import importlib
import sys
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)
DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")]


def _fail(msg: str) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(msg, markup=False, emoji=False)  # user values ("[x]", ":x:") are shown as typed
    return typer.Exit(2)


def serve(
    db: DbOpt = "threatwatch.sqlite",
    host: Annotated[str, typer.Option(help="Address to listen on (keep 127.0.0.1 behind a TLS proxy).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=0, max=65535)] = 8080,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies/--no-secure-cookies",
                                                 help="Mark cookies Secure (set when users reach the desk over https).")] = False,
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w", help="Watchlist TOML to show admins.")] = None,
    days: Annotated[int, typer.Option(help="Days shown on the overview charts.")] = 28,
    proxy_headers: Annotated[bool, typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(help="Proxy addresses trusted for forwarded headers.")] = "127.0.0.1",
) -> None:
    """Run the review desk (web pages + REST API with OpenAPI at /api/openapi.json)."""
    import uvicorn

    from .app import create_app

    app = create_app(db, secure_cookies=secure_cookies, watchlist=watchlist, days=days)
    from .accounts import list_users

    if not list_users(app.state.store):
        err.print(f"[yellow]no accounts yet:[/] create one with `threatwatch user add NAME --role admin --db {db}`")
    err.print(f"review desk on http://{host}:{port}/  (store: {db})")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=proxy_headers,
                forwarded_allow_ips=forwarded_allow_ips, server_header=False)


user_app = typer.Typer(help="Accounts of the review desk (viewer, reviewer, admin).", no_args_is_help=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option(help="viewer | reviewer | admin")] = "viewer",
    db: DbOpt = "threatwatch.sqlite",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Create an account; prompts for the password (or reads it with --password-stdin)."""
    from ..store import open_store
    from .accounts import AccountError, add_user, check_name, check_role

    try:
        check_name(name)
        check_role(role)
    except AccountError as e:
        raise _fail(str(e)) from None
    if password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        pw = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != pw:
            raise _fail("passwords differ")
    store = open_store(db)
    try:
        add_user(store, name, role, pw, actor="cli")
    except AccountError as e:
        raise _fail(str(e)) from None
    err.print(f"created {name} ({role})")


@user_app.command("list")
def user_list(db: DbOpt = "threatwatch.sqlite") -> None:
    """List accounts and their roles."""
    from ..store import open_store
    from .accounts import list_users

    t = Table()
    for c in ("name", "role", "created", "state"):
        t.add_column(c)
    for u in list_users(open_store(db)):
        t.add_row(str(u["name"]), str(u["role"]), str(u["created_at"]), "disabled" if u["disabled"] else "active")
    Console().print(t)


@user_app.command("token")
def user_token(name: str, db: DbOpt = "threatwatch.sqlite",
               label: Annotated[str, typer.Option(help="What the token is for.")] = "") -> None:
    """Mint an API token for NAME (printed once; only its hash is stored)."""
    from ..store import open_store
    from .accounts import AccountError, mint_token

    try:
        tok = mint_token(open_store(db), name, label, actor="cli")
    except AccountError as e:
        raise _fail(str(e)) from None
    err.print("API token (shown once; send it as 'Authorization: Bearer TOKEN'):")
    print(tok)


@user_app.command("disable")
def user_disable(name: str, db: DbOpt = "threatwatch.sqlite") -> None:
    """Disable an account: ends its sessions and revokes its tokens."""
    from ..store import open_store
    from .accounts import AccountError, set_disabled

    try:
        set_disabled(open_store(db), name, True, actor="cli")
    except AccountError as e:
        raise _fail(str(e)) from None
    err.print(f"disabled {name}")


def _notifiers(specs: list[str], store: object) -> list[object]:
    """Build notifiers from `--notify` specs through threatwatch.notify (webhook:URL, smtp://...),
    without their background senders: spikes are sent once, here."""
    if not specs:
        return []
    try:
        mod = importlib.import_module("threatwatch.notify")
    except ModuleNotFoundError:
        raise _fail("--notify needs threatwatch.notify, which this install lacks") from None
    try:
        return list(mod.build_notifiers(specs, store, start=False))
    except ValueError as e:
        raise _fail(str(e)) from None


def spikes(
    db: DbOpt = "threatwatch.sqlite",
    granularity: Annotated[str, typer.Option(help="hour | day")] = "day",
    days: Annotated[int, typer.Option(help="Look for spikes in the last N days (before --end).")] = 7,
    end: Annotated[str | None, typer.Option(help="Last day to check, YYYY-MM-DD (default: the latest data).")] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    notify: Annotated[list[str] | None, typer.Option("--notify", help="Send new spikes to this notifier (repeatable).")] = None,
) -> None:
    """Find spikes (alerts or negative share far above the target's seasonal baseline); with
    --notify, send each new one once."""
    from ..aggregate import notify_spikes
    from ..store import open_store
    from .data import spikes as find

    store = open_store(db)
    notifiers = _notifiers(notify or [], store)  # a bad --notify fails before any output
    try:
        last = date.fromisoformat(end) if end else None
        found = find(store, granularity=granularity, days=days, end=last, target=target)
    except ValueError as e:
        raise _fail(str(e)) from None
    t = Table(title=f"Spikes ({granularity})", title_justify="left")
    for c in ("bucket", "target", "metric", "value", "baseline", "z"):
        t.add_column(c)
    for s in found:
        val = f"{s['value']:.0%}" if s["metric"] == "negative_share" else f"{s['value']:g}"
        base = f"{s['baseline']:.0%}" if s["metric"] == "negative_share" else f"{s['baseline']:g}"
        t.add_row(s["bucket"], s["target"], s["metric"], val, base, f"{s['z']:.1f}")
    Console().print(t if found else "no spikes")
    if notifiers:
        from ..aggregate import Spike

        objs = [Spike(**{k: v for k, v in s.items() if k != "text"}) for s in found]
        sent = notify_spikes(store, objs, notifiers)
        err.print(f"sent {len(sent)} new spike(s) to {len(notifiers)} notifier(s)")
        for n in notifiers:
            close = getattr(n, "close", None)
            if close:
                close()


def retention(
    db: DbOpt = "threatwatch.sqlite",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be deleted.")] = False,
) -> None:
    """Apply the retention settings (set by admins on the desk): purge old decided alerts,
    reject records and hourly aggregates. Undecided alerts and the audit log are kept."""
    from ..store import open_store
    from .retention import apply_retention

    res = apply_retention(open_store(db), dry_run=dry_run, actor="cli")
    verb = "would delete" if dry_run else "deleted"
    Console().print(f"{verb}: {res['alerts']} decided alerts (+{res['alert_duplicates']} re-posts), "
                    f"{res['rejects']} reject records, {res['aggregates']} aggregate rows, {res['seen']} seen keys "
                    f"(policy: {res['policy']})")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(spikes)
    app.command()(retention)
    app.add_typer(user_app, name="user")
