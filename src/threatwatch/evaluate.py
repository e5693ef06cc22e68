"""`threatwatch eval`: score a judge against any labelled file, per language and per kind.

The numbers a user needs before trusting alerts on their own data: per-label precision, recall
and F1, macro-recall (the TweetEval convention) and macro-F1, and - because a monitor that
alerts on protest calls or news is worse than useless - the false-alert rate of every
protected-speech kind. Bad rows are reported with file and line and skipped; the run goes on.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Target, Watchlist, load_watchlist, parse_flag

csv.field_size_limit(10_000_000)

TASKS = ("threat", "sentiment", "on_target")
LABELS = {
    "threat": ("threat", "incitement", "none"),
    "sentiment": ("negative", "neutral", "positive"),
    "on_target": ("1", "0"),
}
_SENT_ALIASES = {"neg": "negative", "neu": "neutral", "pos": "positive", "n": "negative", "p": "positive",
                 "none": "neutral", "0": "negative", "1": "neutral", "2": "positive"}


class EvalError(ValueError):
    """The file as a whole cannot be evaluated (missing, unreadable, no label column)."""


@dataclass
class Example:
    line: int
    text: str
    gold: str
    target: str | None
    lang: str | None
    kind: str | None
    dialect: str | None = None


def _records(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    """(line, record or None, error) from CSV (header row) or JSON lines."""
    if not path.exists():
        raise EvalError(f"{path}: file not found")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as f:
            for i, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as e:
                    yield i, None, f"invalid UTF-8 at byte {e.start}"
                    continue
                except json.JSONDecodeError as e:
                    yield i, None, f"malformed JSON: {e.msg}"
                    continue
                if not isinstance(rec, dict):
                    yield i, None, "a JSON line must be an object"
                    continue
                yield i, rec, ""
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise EvalError(f"{path}: not valid UTF-8 at byte {e.start}") from None
    reader = csv.DictReader(text.splitlines(keepends=True))
    if not reader.fieldnames:
        raise EvalError(f"{path}: empty file (no header row)")
    for rec in reader:
        line = reader.line_num
        if None in rec:
            yield line, None, "more fields than the header has"
            continue
        yield line, rec, ""


def _label_column(task: str, cols: set[str]) -> str:
    if task == "sentiment":
        for c in ("sentiment", "label"):
            if c in cols:
                return c
    elif task in cols:
        return task
    elif "label" in cols:
        return "label"
    raise EvalError(f"no label column for task {task!r}: expected "
                    + ("'sentiment' or 'label'" if task == "sentiment" else f"'{task}' or 'label'"))


def _norm_label(task: str, v: object) -> str | None:
    s = str(v).strip().lower() if v is not None else ""
    if task == "on_target":
        flag = parse_flag(s)
        return None if flag is None else "1" if flag else "0"
    if task == "sentiment":
        s = _SENT_ALIASES.get(s, s)
    return s if s in LABELS[task] else None


def load_examples(path: Path, task: str, watchlist: Watchlist, split: str | None,
                  errors: list[str]) -> list[Example]:
    """Read and validate a labelled file; every skipped row adds 'file:line: reason' to errors."""
    out: list[Example] = []
    label_col: str | None = None
    for line, rec, err in _records(path):
        if rec is None:
            errors.append(f"{path}:{line}: {err}")
            continue
        if label_col is None:
            label_col = _label_column(task, set(rec))
        if split and str(rec.get("split") or "") != split:
            continue
        text = rec.get("text")
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{path}:{line}: field 'text' is missing or empty")
            continue
        gold = _norm_label(task, rec.get(label_col))
        if gold is None:
            errors.append(f"{path}:{line}: field '{label_col}' has {rec.get(label_col)!r}; "
                          f"expected one of {', '.join(LABELS[task])}")
            continue
        tname = str(rec.get("target") or "").strip() or None
        kind = str(rec.get("kind") or "").strip() or None
        lang = str(rec.get("lang") or "").strip().lower() or None
        dialect = str(rec.get("dialect") or "").strip() or None
        out.append(Example(line=line, text=text, gold=gold, target=tname, lang=lang, kind=kind, dialect=dialect))
    if label_col is None and not out:
        if not errors:
            raise EvalError(f"{path}: no rows")
    return out


def _prf(gold: list[str], pred: list[str], labels: tuple[str, ...]) -> dict:
    per: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        n_g = sum(1 for g in gold if g == lab)
        n_p = sum(1 for p in pred if p == lab)
        prec = tp / n_p if n_p else 0.0
        rec = tp / n_g if n_g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": n_g}
    present = [lab for lab in labels if per[lab]["support"]]
    macro_r = sum(per[lab]["recall"] for lab in present) / len(present) if present else 0.0
    macro_f = sum(per[lab]["f1"] for lab in present) / len(present) if present else 0.0
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0
    return {"n": len(gold), "accuracy": acc, "macro_recall": macro_r, "macro_f1": macro_f, "labels": per}


def evaluate(path: Path, watchlist: Watchlist, task: str = "threat", model: str = "default",
             split: str | None = None, judge=None, progress: bool = False) -> dict:  # noqa: ANN001
    """Judge every row of a labelled file and compute the metrics (a JSON-ready dict)."""
    from .judge import load_judge
    from .judge.base import JudgeInput
    from .match import Matcher
    from .normalise import detect_lang, fold

    if task not in TASKS:
        raise EvalError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    errors: list[str] = []
    ex = load_examples(path, task, watchlist, split, errors)
    judge = judge or load_judge(model)
    matcher = Matcher(watchlist) if task != "sentiment" else None
    inputs: list[JudgeInput] = []
    adhoc: dict[str, Target] = {}
    for e in ex:
        folded = fold(e.text)
        if e.lang is None:
            e.lang = detect_lang(e.text)
        target = (watchlist.by_name(e.target) or _adhoc(e.target, adhoc)) if e.target else None
        if target is None and matcher is not None:
            found = matcher.find(e.text, folded)
            target = watchlist.by_name(found[0].target) if found else None
        inputs.append(JudgeInput(text=e.text, folded=folded, lang=e.lang, target=target))
    preds = []
    bs = 256
    if progress and len(inputs) > bs:
        from rich.progress import Progress

        with Progress(transient=True, console=_console()) as prog:
            task_id = prog.add_task(f"judging {path.name}", total=len(inputs))
            for i in range(0, len(inputs), bs):
                preds.extend(judge.judge_batch(inputs[i : i + bs]))
                prog.advance(task_id, len(inputs[i : i + bs]))
    else:
        for i in range(0, len(inputs), bs):
            preds.extend(judge.judge_batch(inputs[i : i + bs]))

    def predicted(j) -> str:  # noqa: ANN001
        if task == "threat":
            return j.threat
        if task == "sentiment":
            return j.sentiment
        return "1" if j.on_target else "0"

    langs = sorted({e.lang or "unknown" for e in ex})
    result: dict = {"file": str(path), "task": task, "model": getattr(judge, "name", model),
                    "split": split, "rows": len(ex), "skipped": len(errors), "errors": errors[:50],
                    "adhoc_targets": sorted(adhoc), "by_lang": {}}
    for lg in [*langs, "all"]:
        idx = [i for i, e in enumerate(ex) if lg == "all" or (e.lang or "unknown") == lg]
        if not idx:
            continue
        gold = [ex[i].gold for i in idx]
        pred = [predicted(preds[i]) for i in idx]
        m = _prf(gold, pred, LABELS[task])
        if task == "threat":
            pos = [i for i in idx if ex[i].gold != "none"]
            m["alert_recall"] = (sum(1 for i in pos if preds[i].threat != "none") / len(pos)) if pos else None
        kinds = sorted({ex[i].kind for i in idx if ex[i].kind})
        if kinds:
            far: dict[str, dict[str, float]] = {}
            for k in kinds:
                ki = [i for i in idx if ex[i].kind == k]
                alerts = sum(1 for i in ki if preds[i].threat != "none")
                far[k] = {"n": len(ki), "alerts": alerts, "alert_rate": alerts / len(ki)}
                if task != "threat":
                    # what this task got right on each kind (e.g. sentiment on counter-speech):
                    # the alert columns alone read as if they were this task's figures
                    far[k]["accuracy"] = sum(1 for i in ki if predicted(preds[i]) == ex[i].gold) / len(ki)
            m["by_kind"] = far
        result["by_lang"][lg] = m
    dialects = sorted({e.dialect for e in ex if e.dialect})
    if dialects:
        # the bias check: the same content in different dialects should alert equally often
        result["by_dialect"] = {}
        for d in dialects:
            idx = [i for i, e in enumerate(ex) if e.dialect == d]
            neg = [i for i in idx if _is_none(task, ex[i])]
            pos = [i for i in idx if not _is_none(task, ex[i])]
            result["by_dialect"][d] = {
                "n": len(idx),
                "false_alert_rate": (sum(1 for i in neg if preds[i].threat != "none") / len(neg)) if neg else None,
                "n_non_threat": len(neg),
                "alert_recall": (sum(1 for i in pos if preds[i].threat != "none") / len(pos)) if pos else None,
                "n_threat": len(pos),
                "accuracy": sum(1 for i in idx if predicted(preds[i]) == ex[i].gold) / len(idx),
            }
    return result


def _is_none(task: str, e: Example) -> bool:
    """Rows that must not alert: for the threat task, gold 'none'; otherwise protected kinds."""
    if task == "threat":
        return e.gold == "none"
    return (e.kind or "") not in THREAT_KINDS


def _console():  # noqa: ANN202
    from rich.console import Console

    return Console(stderr=True)


THREAT_KINDS = {"direct", "conditional", "veiled", "incitement"}


def render(result: dict) -> None:
    """Print the metrics as tables (stdout)."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{result['file']}[/] task={result['task']} model={result['model']} "
              f"rows={result['rows']} skipped={result['skipped']}" + (f" split={result['split']}" if result["split"] else ""))
    task = result["task"]
    other = task != "threat"  # sentiment / on_target: threat alerts per kind are shown for context
    for lg, m in result["by_lang"].items():
        t = Table(title=f"{lg}: n={m['n']}  accuracy={m['accuracy']:.3f}  macro-recall={m['macro_recall']:.3f}  "
                  f"macro-F1={m['macro_f1']:.3f}" + (f"  alert-recall={m['alert_recall']:.3f}"
                                                    if m.get("alert_recall") is not None else ""))
        for c in ("label", "precision", "recall", "F1", "support"):
            t.add_column(c, justify="right" if c != "label" else "left")
        for lab, v in m["labels"].items():
            t.add_row(lab, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
        con.print(t)
        if "by_kind" in m:
            k = Table(title=f"{lg}: alert rate per kind (false alerts for protected kinds)"
                      + (f"; threat alerts shown for context beside {task} accuracy" if other else ""))
            for c in ("kind", "n", "threat alerts" if other else "alerts", "rate",
                      *([f"{task} accuracy"] if other else [])):
                k.add_column(c, justify="right" if c != "kind" else "left")
            for kind, v in m["by_kind"].items():
                tag = " (recall)" if kind in THREAT_KINDS else ""
                k.add_row(kind + tag, str(v["n"]), str(v["alerts"]), f"{v['alert_rate']:.3f}",
                          *([f"{v['accuracy']:.3f}"] if other else []))
            con.print(k)
    if result.get("by_dialect"):
        d = Table(title="by dialect (bias check)")
        for c in ("dialect", "n", "false-alert rate (non-threats)", "alert recall (threats)", "accuracy"):
            d.add_column(c)
        for name, v in result["by_dialect"].items():
            fa = "" if v["false_alert_rate"] is None else f"{v['false_alert_rate']:.3f} (n={v['n_non_threat']})"
            ar = "" if v["alert_recall"] is None else f"{v['alert_recall']:.3f} (n={v['n_threat']})"
            d.add_row(name, str(v["n"]), fa, ar, f"{v['accuracy']:.3f}")
        con.print(d)
    for e in result["errors"]:
        Console(stderr=True).print(f"[yellow]skipped[/] {e}")
    if result.get("adhoc_targets"):
        Console(stderr=True).print("note: not in the watchlist, judged by name only: "
                                   + ", ".join(result["adhoc_targets"]), markup=False)


def _adhoc(name: str, seen: dict[str, Target]) -> Target:
    """A target the watchlist does not name is judged by its name alone (no aliases or
    context words), as `classify` does: a labelled file stays usable without a tailored
    watchlist, and the report lists such targets so the reader knows."""
    if name not in seen:
        seen[name] = Target(name=name, kind="organization")
    return seen[name]


def _empty_watchlist() -> Watchlist:
    return Watchlist(targets=[], path="")


def register(app) -> None:  # noqa: ANN001 - typer.Typer
    """Add `threatwatch eval` to the CLI."""
    import typer

    @app.command("eval")
    def _eval(
        data: Path = typer.Option(..., "--data", help="labelled CSV or JSONL (text + label column)"),
        watchlist: Path = typer.Option(None, "--watchlist", "-w", help="watchlist TOML naming the file's targets"),
        task: str = typer.Option("threat", "--task", help="threat | sentiment | on_target"),
        model: str = typer.Option("default", "--model", help="default | lexicon"),
        split: str = typer.Option(None, "--split", help="only rows whose 'split' column equals this"),
        as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
    ) -> None:
        """Per-label precision/recall/F1, macro scores and per-kind false-alert rates, by language."""
        from .config import ConfigError

        try:
            wl = load_watchlist(watchlist) if watchlist else _empty_watchlist()
            res = evaluate(data, wl, task, model, split, progress=not as_json)
        except (EvalError, ConfigError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            sys.stdout.write(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
            for e in res["errors"]:
                typer.echo(f"skipped {e}", err=True)
        else:
            render(res)
