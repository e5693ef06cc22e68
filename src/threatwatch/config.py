"""The watchlist (TOML): who and what the organisation watches.

Errors name the file, the target's position and the bad field, because a watchlist is
written by hand and a silent mistake means a target nobody is watching.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

KINDS = ("person", "organization", "place", "group")  # group: a community an NGO watches over


class ConfigError(ValueError):
    """A watchlist or settings problem, with the file and field named in the message."""


class Target(msgspec.Struct, kw_only=True):
    """One watched person, organisation or place."""

    name: str
    kind: str = "organization"
    description: str = ""
    aliases: list[str] = []
    # aliases per language, e.g. {"es": ["la migra"]}; merged with `aliases` for matching
    aliases_by_lang: dict[str, list[str]] = {}
    # words that, near a mention, show the post is about something else ("roads", "hockey")
    negative_context: list[str] = []
    # words that, near a mention, show the post is about this target ("agents", "raid")
    positive_context: list[str] = []
    case_sensitive: bool = False  # e.g. "ICE" only in capitals
    threshold: float = 0.5  # threat score at or above which an alert is raised
    notify: list[str] = []  # notifier names (see [[notifier]]) for this target's alerts

    def all_aliases(self) -> list[str]:
        """Name plus every alias in every language, de-duplicated, order kept."""
        seen: dict[str, None] = {self.name: None}
        for a in self.aliases:
            seen.setdefault(a, None)
        for names in self.aliases_by_lang.values():
            for a in names:
                seen.setdefault(a, None)
        return [a for a in seen if a.strip()]


class Watchlist(msgspec.Struct, kw_only=True):
    targets: list[Target]
    path: str = ""

    def by_name(self, name: str) -> Target | None:
        low = name.casefold()
        for t in self.targets:
            if t.name.casefold() == low:
                return t
        return None


_TARGET_FIELDS = {f for f in Target.__struct_fields__}


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_flag(value: str) -> bool | None:
    """An on/off value (an option such as `?verify=0`, a 0/1 column): 1/true/yes/on or
    0/false/no/off in any case; None for anything else, for the caller to report."""
    return _FLAGS.get(value.lower())


def _err(path: str, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _str_list(path: str, where: str, field: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(path, where, f"field '{field}' must be a list of strings, got {value!r}")
    return list(value)


def parse_watchlist(text: str, path: str = "<watchlist>") -> Watchlist:
    """Parse and validate watchlist TOML; raise ConfigError naming the bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    # A typo'd table name ([[targets]]) or a stray key must be named, not silently ignored.
    unknown = ", ".join(repr(k) for k in sorted(data) if k != "target")
    raw = data.get("target")
    if raw is None:
        hint = f" (found unknown top-level key(s) {unknown})" if unknown else ""
        raise ConfigError(f"{path}: no [[target]] entries; a watchlist needs at least one target{hint}")
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; a watchlist holds only [[target]] tables")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: 'target' must be an array of tables ([[target]])")
    targets: list[Target] = []
    names: set[str] = set()
    for i, t in enumerate(raw, start=1):
        if not isinstance(t, dict):
            raise ConfigError(f"{path}: target #{i}: must be a table")
        label = f"target #{i}" + (f" ({t['name']!r})" if isinstance(t.get("name"), str) else "")
        unknown = sorted(set(t) - _TARGET_FIELDS)
        if unknown:
            raise _err(path, label, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_TARGET_FIELDS))}")
        name = t.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _err(path, label, "field 'name' is required and must be a non-empty string")
        if name.casefold() in names:
            raise _err(path, label, f"field 'name': duplicate target name {name!r}")
        names.add(name.casefold())
        kind = t.get("kind", "organization")
        if kind == "organisation":
            kind = "organization"
        if kind not in KINDS:
            raise _err(path, label, f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
        desc = t.get("description", "")
        if not isinstance(desc, str):
            raise _err(path, label, "field 'description' must be a string")
        fields: dict[str, object] = {"name": name.strip(), "kind": kind, "description": desc}
        for f in ("aliases", "negative_context", "positive_context", "notify"):
            if f in t:
                fields[f] = _str_list(path, label, f, t[f])
        if "aliases_by_lang" in t:
            abl = t["aliases_by_lang"]
            if not isinstance(abl, dict):
                raise _err(path, label, "field 'aliases_by_lang' must be a table of lang = [names]")
            fields["aliases_by_lang"] = {
                k: _str_list(path, label, f"aliases_by_lang.{k}", v) for k, v in abl.items()
            }
        if "case_sensitive" in t:
            if not isinstance(t["case_sensitive"], bool):
                raise _err(path, label, "field 'case_sensitive' must be true or false")
            fields["case_sensitive"] = t["case_sensitive"]
        if "threshold" in t:
            th = t["threshold"]
            if isinstance(th, bool) or not isinstance(th, (int, float)) or not 0.0 <= th <= 1.0:
                raise _err(path, label, f"field 'threshold' must be a number between 0 and 1, got {th!r}")
            fields["threshold"] = float(th)
        targets.append(Target(**fields))  # type: ignore[arg-type]
    return Watchlist(targets=targets, path=path)


def load_watchlist(path: str | Path) -> Watchlist:
    """Read a watchlist file; errors name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: watchlist file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not valid UTF-8 at byte {e.start}") from None
    return parse_watchlist(text, str(p))
