"""One TOML file per post holds every hyperparameter; profiles and `--set` override it.

Layout of the file:

    seed = 0                      # top-level and [table] values form the `default` profile
    [ddpm]
    steps = 4000
    [profiles.fast.ddpm]          # a profile overrides some of them
    steps = 300

A post whose defaults are already quick needs no `[profiles.fast]`: `--profile fast` (what the
tests and CI build every post with) then builds its default values, as a draft. Any other profile
must be declared.

The default profile's keys and value types are the schema: an override of an unknown key (with a
did-you-mean suggestion) or of the wrong type is refused before anything runs. Range checks belong
to the application, which passes a `validate(values)` callable that raises `ConfigError`; one that
names the key (`ConfigError(message, key="ddpm.lr")`) is reported where that value was set:
`blog/post.toml:52: ...` or `--set ddpm.lr=1e4: ...`.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PUBLISHED_PROFILE = "default"
DRAFT_PROFILE = "fast"  # what tests and CI build every post with; optional in a config file
PROFILES_TABLE = "profiles"


class ConfigError(ValueError):
    """A bad config file, profile, key, type or value; the message is one line. `key` (dotted)
    names the offending value when there is one."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Config:
    """The resolved values of one profile (nested dicts), and where they came from."""

    values: dict[str, Any]
    profile: str = PUBLISHED_PROFILE
    path: Path | None = None
    overrides: tuple[str, ...] = field(default=())

    def get(self, dotted: str) -> Any:
        """The value at 'table.key' (or a whole table)."""
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ConfigError(f"{self._where()}: no config key '{dotted}'"
                                  f"{_suggest(dotted, flatten(self.values))}")
            node = node[part]
        return node

    def select(self, keys: Iterable[str]) -> dict[str, Any]:
        """{key: value} for the given dotted keys (tables included whole), sorted by key."""
        return {k: copy.deepcopy(self.get(k)) for k in sorted(set(keys))}

    @property
    def is_published(self) -> bool:
        return self.profile == PUBLISHED_PROFILE

    def _where(self) -> str:
        return str(self.path) if self.path else "config"


def load_config(
    path: str | Path,
    profile: str = PUBLISHED_PROFILE,
    overrides: Iterable[str] = (),
    validate: Callable[[dict[str, Any]], None] | None = None,
) -> Config:
    """Read `path`, apply `[profiles.<profile>]`, then each 'key=value' override, then validate."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte at offset {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    profiles = raw.pop(PROFILES_TABLE, {})
    base = raw
    values = copy.deepcopy(base)
    origin: dict[str, str] = {}  # dotted key -> where its value was last set, if not the base
    if profile != PUBLISHED_PROFILE and not (profile == DRAFT_PROFILE
                                             and profile not in profiles):
        if profile not in profiles:
            names = ", ".join(sorted({PUBLISHED_PROFILE, DRAFT_PROFILE, *profiles}))
            raise ConfigError(f"{path}: unknown profile '{profile}' (choose from: {names})")
        for key, value in flatten(profiles[profile]).items():
            _assign(values, base, key, value, f"{path} [{PROFILES_TABLE}.{profile}]")
            line = key_line(text, f"{PROFILES_TABLE}.{profile}.{key}")
            origin[key] = f"{path}:{line}" if line else f"{path} [{PROFILES_TABLE}.{profile}]"
    overrides = tuple(overrides)
    for item in overrides:
        key, value = parse_override(item)
        _assign(values, base, key, value, f"--set {item}")
        origin[key] = f"--set {item}"
    if validate is not None:
        try:
            validate(values)
        except ConfigError as e:
            where = str(path)
            if e.key:
                line = key_line(text, e.key)
                where = origin.get(e.key) or (f"{path}:{line}" if line else where)
            raise ConfigError(f"{where}: {e}", e.key) from None
        except Exception as e:  # noqa: BLE001 - a hook tripping over a value it did not expect
            name = getattr(validate, "__qualname__", "validate")
            raise ConfigError(f"{path}: the range checks ({name}) failed on its values: "
                              f"{type(e).__name__}: {str(e).partition(chr(10))[0]} (a value of "
                              "the wrong type?)") from None
    return Config(values, profile, path, overrides)


def key_line(text: str, dotted: str) -> int | None:
    """The line (1-based) of TOML `text` that sets `dotted` ('ddpm.lr' under a [ddpm] header, or
    'profiles.fast.ddpm.steps'), or None. A plain scan of `[table]` headers and `key =` lines,
    which is all the config files use."""
    table = ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            table = stripped[1:].split("]", 1)[0].strip()
            continue
        key, eq, _ = stripped.partition("=")
        if eq and not stripped.startswith("#"):
            full = f"{table}.{key.strip()}" if table else key.strip()
            if full == dotted:
                return lineno
    return None


def parse_override(item: str) -> tuple[str, Any]:
    """'ddpm.steps=300' -> ('ddpm.steps', 300); the value is read as TOML, else as a string."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set ddpm.steps=300")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return key, value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _assign(values: dict, base: dict, key: str, value: Any, where: str) -> None:
    known = flatten(base)
    if key not in known:
        raise ConfigError(f"{where}: unknown key '{key}'{_suggest(key, known)}")
    expected = known[key]
    value = _coerce(value, expected, f"{where}: '{key}'")
    *tables, leaf = key.split(".")
    node = values
    for t in tables:
        node = node[t]
    node[leaf] = value


def _coerce(value: Any, expected: Any, what: str) -> Any:
    if isinstance(expected, bool):
        ok = isinstance(value, bool)
    elif isinstance(expected, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(expected, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(expected))
    if not ok:
        raise ConfigError(f"{what} must be {type(expected).__name__}, got {value!r}")
    return value


def _suggest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
