"""Write en.csv / es.csv from the hand-written templates in rows_en.py / rows_es.py.

Usage: python data/heldout/build.py   (deterministic; the CSVs are the artefact, this shows how)
"""
import csv
import importlib.util
import random
from pathlib import Path

HERE = Path(__file__).parent
THREAT = {"direct": "threat", "conditional": "threat", "veiled": "threat", "incitement": "incitement"}
COLS = ["id", "text", "lang", "target", "threat", "kind", "sentiment", "on_target", "dialect", "note"]
NAMES = {"MER": "Mercy General Hospital", "PRU": "Phoenix Ridge University", "FARO": "Radio El Faro",
         "BRAN": "Tess Brannigan", "SHER": "Dunmore County Sheriff's Office",
         "BOARD": "Westmarch State Election Board", "PRICE": "Gideon Price",
         "LIB": "Liberty Bridge Refugee Aid", "MAT": "Rodrigo Maturana", "BP": "Border Patrol"}


def load(name: str):
    """Import a rows module by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(lang: str) -> list[dict]:
    """Fill every template for each of its targets, cycling the surface forms."""
    mod = load(f"rows_{lang}")
    out = []
    for t_idx, row in enumerate(mod.R):
        kind, sent, dialect, targets, text, note = row
        for i, key in enumerate(targets):
            forms = mod.S[key]
            surface = forms[(i + t_idx) % len(forms)]
            pron = getattr(mod, "P", {}).get(key, ("they", "them", "their"))
            extra = getattr(mod, "X", {}).get(key, {})
            filled = text.format(T=surface, p0=pron[0], p1=pron[1], p2=pron[2], P0=pron[0].upper(),
                                 H=mod.H[key], **extra)
            if "all caps" in note:
                filled = filled.upper()
            out.append({"text": filled, "lang": lang, "target": NAMES[key],
                        "threat": THREAT.get(kind, "none"), "kind": kind, "sentiment": sent,
                        "on_target": "0" if kind == "off_target" else "1", "dialect": dialect,
                        "note": note})
    random.Random(7).shuffle(out)
    for n, r in enumerate(out, 1):
        r["id"] = f"h{lang}-{n:04d}"
    return out


if __name__ == "__main__":
    for lang in ("en", "es"):
        if not (HERE / f"rows_{lang}.py").exists():
            continue
        rows = build(lang)
        with open(HERE / f"{lang}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLS)
            w.writeheader()
            w.writerows(rows)
        print(lang, len(rows))
