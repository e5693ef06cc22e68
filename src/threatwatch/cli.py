"""The command line: thin typer commands over the library.

Exit status: 0 = done, nothing rejected; 3 = done, but some input was rejected (see the
summary and the store's rejects); 2 = bad usage or configuration (the message names it).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import ConfigError, Target, Watchlist, load_watchlist

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="threatwatch: monitor public posts for threats and sentiment toward watched targets.")
err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)  # ":x" in a user value is not an emoji

EXIT_REJECTS = 3
EXIT_USAGE = 2

# Feature modules that add commands: each exposes register(app).
FEATURES: tuple[str, ...] = ("threatwatch.live", "threatwatch.bus.cli", "threatwatch.web.cli", "threatwatch.judge.train", "threatwatch.evaluate")


def _fail(msg: str) -> typer.Exit:
    err.print("[bold red]error:[/] ", end="")
    err.print(msg, markup=False)
    return typer.Exit(EXIT_USAGE)


def _helpers(value: str) -> int:
    """--judge-helpers: 'auto' (2 where there are 2 cores or more: the fastest measured on 2
    cores) or a count."""
    if value.strip().lower() == "auto":
        from .pipeline import auto_helpers

        return auto_helpers()
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise _fail(f"--judge-helpers: expected 'auto' or a number >= 0, got {value!r}")
    return n


def _watchlist(path: Path) -> Watchlist:
    try:
        return load_watchlist(path)
    except ConfigError as e:
        raise _fail(str(e)) from None


def _existing_store(db: str) -> Any:
    """Open a store that must already exist: a typo'd --db on a read-only command must not
    silently create an empty store and report nothing."""
    from .store import open_store

    if not db.startswith(("postgresql://", "postgres://")):
        path = db.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not os.path.exists(path):
            raise _fail(f"--db: no store at {path} (check the path; `threatwatch run` creates it)")
    return open_store(db)


WatchlistOpt = Annotated[Path, typer.Option("--watchlist", "-w", help="Watchlist TOML file.")]
DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")]


@app.command()
def run(
    inputs: Annotated[list[str], typer.Argument(help="Input files ('-' for stdin).")],
    watchlist: WatchlistOpt,
    db: DbOpt = "threatwatch.sqlite",
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Force the input format (default: detect).")] = None,
    judge: Annotated[str, typer.Option(help="Judge model: default | lexicon.")] = "default",
    batch_size: Annotated[int, typer.Option(help="Posts per batch (one transaction each).", min=1)] = 2000,
    text_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the text.")] = None,
    id_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the post id.")] = None,
    time_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the creation time.")] = None,
    author_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the public handle.")] = None,
    url_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the link.")] = None,
    lang_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the language.")] = None,
    platform: Annotated[str | None, typer.Option(help="CSV/JSONL: platform name for these posts.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    judge_helpers: Annotated[str, typer.Option(
        help="Helper processes that judge while this one reads, matches and stores (long runs only): "
             "a number, or 'auto' = 2 on a machine with 2 or more cores, else 0 (2 measured fastest "
             "on 2 cores, BENCHMARKS.md).")] = "auto",
) -> None:
    """Run the whole pipeline over files: read, normalise, match, judge, count, alert, store."""
    from .judge import load_judge
    from .pipeline import Pipeline
    from .sources import FORMATS, mapping_from_options, read_inputs
    from .store import open_store

    wl = _watchlist(watchlist)
    if fmt is not None and fmt not in FORMATS:
        raise _fail(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    try:
        jd = load_judge(judge)
    except ValueError as e:
        raise _fail(f"--judge: {e}") from None
    store = open_store(db)
    mapping = mapping_from_options(text=text_col, id=id_col, created_at=time_col, author=author_col,
                                   url=url_col, lang=lang_col, platform=platform)
    pipe = Pipeline(wl, store, jd, batch_size=batch_size, judge_helpers=_helpers(judge_helpers))
    items = read_inputs(inputs, fmt, mapping=mapping)
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(bar_width=None),
                  TextColumn("{task.completed:,} posts · {task.fields[alerts]} alerts"), TimeElapsedColumn(),
                  console=err, disable=quiet, transient=False) as progress:
        task = progress.add_task("judging", total=None, alerts=0)

        def tick(st: Any) -> None:
            progress.update(task, advance=st.read + st.rejected_total,
                            alerts=progress.tasks[task].fields["alerts"] + st.alerts)

        stats = pipe.run(items, on_batch=tick)
    store.close()
    _summary(stats, db)
    if stats.rejected_total:
        raise typer.Exit(EXIT_REJECTS)


def _summary(stats: Any, db: str) -> None:
    out = Console()
    rate = stats.read / stats.seconds if stats.seconds else 0.0
    out.print(f"[bold]Read[/] {stats.read:,} posts in {stats.seconds:.1f}s ({rate:,.0f}/s) · "
              f"[bold]rejected[/] {stats.rejected_total:,} · target mentions {stats.mentions:,} · "
              f"on-target {stats.on_target:,} (newly counted {stats.counted:,}, already counted {stats.already_counted:,}) · "
              f"off-target {stats.off_target:,} · [bold]new alerts {stats.alerts:,}[/]")
    if stats.rejected:
        t = Table(title="Rejected, by reason", title_justify="left")
        t.add_column("reason")
        t.add_column("inputs", justify="right")
        for k, v in sorted(stats.rejected.items(), key=lambda kv: -kv[1]):
            t.add_row(k, f"{v:,}")
        out.print(t)
        out.print(f"Each reject is kept with its file, line and reason: threatwatch rejects --db {db}")
    if stats.sentiment:
        t = Table(title="On-target sentiment, by target", title_justify="left")
        for col in ("target", "negative", "neutral", "positive"):
            t.add_column(col, justify="left" if col == "target" else "right")
        for name, d in sorted(stats.sentiment.items()):
            t.add_row(name, *(f"{d.get(k, 0):,}" for k in ("negative", "neutral", "positive")))
        out.print(t)


@app.command()
def rejects(db: DbOpt = "threatwatch.sqlite",
            limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50) -> None:
    """List rejected inputs with their file, line and reason."""
    store = _existing_store(db)
    t = Table()
    for col in ("source", "line", "reason", "detail"):
        t.add_column(col)
    for r in store.rejects(limit):
        t.add_row(str(r["source"]), str(r["line"] or ""), r["reason"], r["detail"] or "")
    Console().print(t)


def _classify_target(wl: Watchlist, name: str) -> Target:
    t = wl.by_name(name)
    if t is not None:
        return t
    # Not in the watchlist: judge toward an ad-hoc target named exactly so (said once on stderr).
    if name not in _ADHOC_WARNED:
        _ADHOC_WARNED.add(name)
        err.print(f"note: target {name!r} is not in the watchlist; judging toward it by name only", markup=False)
    return Target(name=name, kind="organization")


_ADHOC_WARNED: set[str] = set()


@app.command()
def classify(
    watchlist: WatchlistOpt,
    input: Annotated[Path | None, typer.Option("--input", "-i", help="JSONL input (default stdin).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL output (default stdout).")] = None,
    judge: Annotated[str, typer.Option(help="Judge model: default | lexicon.")] = "default",
    batch_size: Annotated[int, typer.Option(help="Lines judged together.")] = 256,
    details: Annotated[bool, typer.Option("--details", help="Add 'subtype' and 'cues' (evidence spans) to each line.")] = False,
) -> None:
    """Stateless judging: one JSON line in ({"id","text","target"?,"lang"?}), one line out per
    (post, target) with on_target, threat, threat_score, sentiment, sentiment_scores, explanation."""
    from .judge import JudgeInput, load_judge
    from .match import Matcher
    from .normalise import detect_lang, fold

    wl = _watchlist(watchlist)
    jd = load_judge(judge)
    matcher = Matcher(wl)
    try:
        fin = input.open("rb") if input else sys.stdin.buffer
    except OSError as e:
        raise _fail(f"--input {input}: cannot open: {e.strerror or e}") from None
    try:
        fout = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as e:
        raise _fail(f"--output {output}: cannot write: {e.strerror or e}") from None
    src = str(input) if input else "<stdin>"
    bad = 0
    pending: list[tuple[Any, JudgeInput]] = []

    def flush() -> None:
        if not pending:
            return
        results = jd.judge_batch([ji for _, ji in pending])
        for (pid, _ji), j in zip(pending, results, strict=True):
            # with no target, nothing is "on target": the line carries overall sentiment only
            rec = {"id": pid, "target": j.target, "on_target": bool(j.on_target) and j.target is not None,
                   "threat": j.threat,
                   "threat_score": round(float(j.threat_score), 4), "sentiment": j.sentiment,
                   "sentiment_scores": {k: round(float(v), 4) for k, v in j.sentiment_scores.items()},
                   "explanation": j.explanation}
            if details:
                rec["subtype"] = j.subtype
                rec["cues"] = [msgspec.to_builtins(c) for c in j.cues]
            fout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        pending.clear()

    for lineno, raw in enumerate(fin, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            bad += 1
            err.print(f"{src}:{lineno}: invalid UTF-8 at byte {e.start}; line skipped", markup=False)
            continue
        except json.JSONDecodeError as e:
            bad += 1
            err.print(f"{src}:{lineno}: malformed JSON ({e.msg} at column {e.colno}); line skipped", markup=False)
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            bad += 1
            err.print(f"{src}:{lineno}: field 'text' is missing or not a string; line skipped", markup=False)
            continue
        text = obj["text"]
        pid = obj.get("id", lineno)
        tname = obj.get("target")
        if tname is not None and not isinstance(tname, str):
            bad += 1
            err.print(f"{src}:{lineno}: field 'target' must be a string or absent; line skipped", markup=False)
            continue
        folded = fold(text)
        lang = detect_lang(text, obj.get("lang") if isinstance(obj.get("lang"), str) else None)
        mentions = matcher.find(text, folded)
        if tname:
            target = _classify_target(wl, tname)
            spans = [s for m in mentions if m.target == target.name for s in m.spans]
            pending.append((pid, JudgeInput(text=text, folded=folded, lang=lang, target=target, mention_spans=spans)))
        elif mentions:
            for m in mentions:
                target = wl.by_name(m.target)
                pending.append((pid, JudgeInput(text=text, folded=folded, lang=lang, target=target, mention_spans=list(m.spans))))
        else:
            pending.append((pid, JudgeInput(text=text, folded=folded, lang=lang, target=None)))
        if len(pending) >= batch_size:
            flush()
    flush()
    if output:
        fout.close()
        fin.close() if input else None
    else:
        fout.flush()
    if bad:
        err.print(f"{bad} input line(s) skipped")
        raise typer.Exit(EXIT_REJECTS)


@app.command()
def report(
    db: DbOpt = "threatwatch.sqlite",
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: this week).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json | csv | html | pdf")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout; pdf needs it).")] = None,
    watchlist: Annotated[Path | None, typer.Option("--watchlist", "-w", help="List these targets (default: those the store knows).")] = None,
) -> None:
    """The weekly report: per target, mentions by sentiment, alerts, and change from the week before."""
    from . import report as rep
    from .store.sql import parse_week

    wk = week or rep.current_week()
    try:
        year, num = parse_week(wk)
    except ValueError as e:
        raise _fail(f"--week: {e}") from None
    wk = f"{year:04d}-W{num:02d}"  # "2026-w47" and " 2026-W47" are printed in the report as 2026-W47
    if fmt not in (*rep.FORMATS, "pdf"):
        raise _fail(f"--format: unknown report format {fmt!r}; use one of {', '.join((*rep.FORMATS, 'pdf'))}")
    names = [t.name for t in _watchlist(watchlist).targets] if watchlist else None
    store = _existing_store(db)
    data = rep.weekly(store, wk, names)
    if fmt == "pdf":
        try:
            pdf = importlib.import_module("threatwatch.report_pdf")
        except ModuleNotFoundError:
            raise _fail("--format pdf is not available in this install") from None
        if not output:
            raise _fail("--format pdf needs --output FILE.pdf")
        try:
            pdf.write_pdf(store, data, output)
        except OSError as e:
            raise _fail(f"--output: cannot write {output}: {e.strerror or e}") from None
        err.print(f"wrote {output}")
        return
    try:
        text = rep.render(data, fmt)
    except ValueError as e:
        raise _fail(f"--format: {e}") from None
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise _fail(f"--output: cannot write {output}: {e.strerror or e}") from None
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's database and report.")] = Path("demo-output"),
) -> None:
    """Run everything on the shipped sample and say where to look."""
    from importlib import resources

    from . import report as rep
    from .judge import load_judge
    from .pipeline import Pipeline
    from .sources import read_inputs
    from .store import open_store

    samples = resources.files("threatwatch") / "samples"
    out.mkdir(parents=True, exist_ok=True)
    wl_path = Path(str(samples / "watchlist.toml"))
    wl = _watchlist(wl_path)
    files = sorted(str(p) for p in Path(str(samples)).iterdir() if p.name != "watchlist.toml" and not p.name.startswith("README"))
    db = out / "demo.sqlite"
    if db.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    store = open_store(str(db))
    err.print(f"Judging the shipped sample ({len(files)} files) with watchlist {wl_path} ...")
    pipe = Pipeline(wl, store, load_judge("default"))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} posts"),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("judging", total=None)
        stats = pipe.run(read_inputs(files), on_batch=lambda st: progress.update(task, advance=st.read + st.rejected_total))
    _summary(stats, str(db))
    weeks = sorted({r[0][:10] for r in store.query("SELECT hour FROM agg")})
    from datetime import date as _date

    latest = rep.current_week(_date.fromisoformat(weeks[-1])) if weeks else rep.current_week()
    data = rep.weekly(store, latest)
    (out / "report.html").write_text(rep.to_html(data), encoding="utf-8")
    (out / "report.json").write_text(rep.to_json(data), encoding="utf-8")
    (out / "report.csv").write_text(rep.to_csv(data), encoding="utf-8")
    c = Console()
    top = store.alerts(limit=5)
    if top:
        t = Table(title="Top alerts awaiting review", title_justify="left")
        for col in ("id", "target", "score", "type", "post"):
            t.add_column(col)
        for a in top:
            t.add_row(str(a.id), a.target, f"{a.threat_score:.2f}", a.subtype or a.threat, a.text[:80])
        c.print(t)
    c.print(f"\n[bold]Where to look[/]\n  store:   {db}\n  report:  {out / 'report.html'} (also .json, .csv) for {latest}\n"
            f"  alerts:  threatwatch serve --db {db}   (web review desk, after `threatwatch user add`)\n"
            f"  rejects: threatwatch rejects --db {db}\n"
            f"  again:   threatwatch report --db {db} --week {latest} --format html -o report.html")


def _register_features() -> None:
    for mod in FEATURES:
        importlib.import_module(mod).register(app)


_register_features()


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
