"""Numbers and comparisons in the post's Markdown: every number a template prints comes from here.

One format throughout: a true minus sign (U+2212, "−1.2"), never a hyphen; no "−0.0"; a unit
after a no-break space. Filters for bare numbers:

    {{ x | sig(2) }}          0.00012, 1.2×10⁻⁷        {{ x | fixed(2) }}     3.14
    {{ n | thousands }}       40,000                    {{ f | percent(1) }}   12.3 %
    {{ t | seconds }}         0.42 s, 1 min 15 s        {{ -4 | pow10 }}       ×10⁻⁴

An *estimate* is a mapping {"value", "lo", "hi", "n"}: a measured value, its 95 % interval
[lo, hi] (possibly asymmetric, e.g. Wilson's) and the sample size. It is printed in a fixed unit
chosen by the author, so that a column of a table reads at one scale:

    {{ m | est(1, exp=-4) }}  3.7 [2.3, 5.1]            (the values over 10⁻⁴; header: ×10⁻⁴)
    {{ m | est_pct(1) }}      2.3 [1.9, 2.8]            (the values in percent; header: %)

Comparison words (`compare`, a template global) follow the intervals, see `compare`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MINUS = "\u2212"
NBSP = "\u00a0"
Z95 = 1.959963984540054  # the 97.5 % quantile of N(0, 1): a 95 % interval is value ± Z95·SE

LOWER = "lower than"
HIGHER = "higher than"
SAME = "indistinguishable at this sample size from"

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# CommonMark's backslash-escapable punctuation that could start markup inside a sentence;
# `$` is the site's math delimiter (hugo.toml: "A literal dollar sign is written \$").
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|!$~])")


class FormatError(ValueError):
    """A filter was given what it cannot format; one line, naming the filter."""


class Raw(str):
    """A string already in Markdown (a figure, the `raw` filter): inserted without escaping."""


def escape_markdown(text: str) -> str:
    """Backslash-escape the characters that Markdown (or the site's `$` math) would interpret."""
    return _MD_SPECIAL.sub(r"\\\1", text)


# ---- bare numbers

def _number(x: Any, filt: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise FormatError(f"| {filt}: expected a number, got {x!r}")
    return float(x)


def _signed(text: str) -> str:
    """A formatted number with a true minus sign, and no sign on a zero ("−0.0" -> "0.0")."""
    if re.fullmatch(r"-[0.,]+", text):
        text = text[1:]
    return text.replace("-", MINUS)


def _with_unit(text: str, unit: str) -> Raw:
    return Raw(f"{text}{NBSP}{escape_markdown(unit)}" if unit else text)


def _fixed(v: float, decimals: int) -> str:
    if math.isinf(v):
        return MINUS + "∞" if v < 0 else "∞"
    return _signed(f"{v:.{decimals}f}")


def sig(x: Any, digits: int = 3, unit: str = "") -> Raw:
    """`x` to `digits` significant digits: 0.000123 -> 0.00012; 1.2e-7 -> 1.2×10⁻⁷; −0.5."""
    v = _number(x, "sig")
    if not math.isfinite(v):
        return _with_unit(escape_markdown(_signed(str(v))), unit)
    if v == 0:
        return _with_unit("0", unit)
    scientific = f"{v:.{digits - 1}e}"  # rounded: "1.2e-07", "1.0e+01"
    mantissa, _, exponent = scientific.partition("e")
    exp = int(exponent)
    if -4 <= exp < 6:
        text = _signed(f"{float(scientific):.{max(digits - 1 - exp, 0)}f}")
    else:
        text = f"{_signed(mantissa)}×10{str(exp).translate(_SUPERSCRIPT)}"
    return _with_unit(text, unit)


def fixed(x: Any, decimals: int = 2, unit: str = "") -> Raw:
    """`x` with a fixed number of decimals: 3.14159 | fixed(2) -> 3.14."""
    return _with_unit(_fixed(_number(x, "fixed"), decimals), unit)


def thousands(x: Any) -> Raw:
    """An integer with thousands separators: 40000 -> 40,000."""
    return Raw(_signed(f"{round(_number(x, 'thousands')):,}"))


def percent(x: Any, decimals: int = 1) -> Raw:
    """A fraction as a percentage: 0.1234 -> 12.3 %."""
    return Raw(f"{_fixed(100 * _number(x, 'percent'), decimals)}{NBSP}%")


def seconds(x: Any) -> Raw:
    """A duration: 0.42 -> 0.42 s; 75 -> 1 min 15 s; 3700 -> 1 h 2 min."""
    t = _number(x, "seconds")
    if t < 60:
        return Raw(f"{sig(t, 2) if t < 10 else round(t)}{NBSP}s")
    if t < 3600:
        m, s = divmod(round(t), 60)
        return Raw(f"{m}{NBSP}min {s}{NBSP}s" if s else f"{m}{NBSP}min")
    h, m = divmod(round(t / 60), 60)
    return Raw(f"{h}{NBSP}h {m}{NBSP}min" if m else f"{h}{NBSP}h")


def pow10(exp: Any) -> Raw:
    """The label of a fixed unit 10^exp, for a table header: -4 -> ×10⁻⁴ (0 -> empty)."""
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise FormatError(f"| pow10: expected an integer exponent, got {exp!r}")
    return Raw(f"×10{str(exp).translate(_SUPERSCRIPT)}" if exp else "")


def raw(x: Any) -> Raw:
    """Insert a string as Markdown, unescaped (for text a stage wrote as Markdown on purpose)."""
    return Raw(str(x))


# ---- estimates

@dataclass(frozen=True)
class Estimate:
    """A measured value with its 95 % interval [lo, hi] and its sample size n."""

    value: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, x: Any, who: str) -> Estimate:
        """Check that `x` is an estimate mapping; `who` names the filter in the error."""
        if not isinstance(x, Mapping):
            raise FormatError(f"{who}: expected an estimate {{value, lo, hi, n}}, got {x!r}")
        missing = [k for k in ("value", "lo", "hi", "n") if k not in x]
        if missing:
            raise FormatError(f"{who}: not an estimate: no '{missing[0]}' in {{"
                              f"{', '.join(map(str, x))}}}")
        v, lo, hi, n = x["value"], x["lo"], x["hi"], x["n"]
        for name, y in (("value", v), ("lo", lo), ("hi", hi)):
            if isinstance(y, bool) or not isinstance(y, int | float) or math.isnan(y):
                raise FormatError(f"{who}: estimate's {name} is {y!r}, not a number")
        if not math.isfinite(v):
            raise FormatError(f"{who}: estimate's value is {v!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise FormatError(f"{who}: estimate's n is {n!r}, not a positive integer")
        if lo > hi:
            raise FormatError(f"{who}: estimate's interval [{lo!r}, {hi!r}] is reversed")
        tol = 1e-9 * max((abs(y) for y in (v, lo, hi) if math.isfinite(y)), default=0.0)
        if not lo - tol <= v <= hi + tol:  # (a rounding error's worth outside is inside)
            raise FormatError(f"{who}: estimate's value {v!r} lies outside its interval "
                              f"[{lo!r}, {hi!r}]")
        return cls(float(v), float(lo), float(hi), n)


def _interval(e: Estimate, scale: float, decimals: int, unit: str) -> Raw:
    parts = [_fixed(y / scale, decimals) for y in (e.value, e.lo, e.hi)]
    return _with_unit(f"{parts[0]} [{parts[1]}, {parts[2]}]", unit)


def est(x: Any, decimals: int = 1, exp: int = 0, unit: str = "") -> Raw:
    """An estimate in the unit 10^exp: {value: 3.7e-4, lo: 2.3e-4, hi: 5.1e-4} | est(1, exp=-4)
    -> "3.7 [2.3, 5.1]". The header (or the sentence) says the unit: {{ -4 | pow10 }}."""
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise FormatError(f"| est: exp must be an integer, got {exp!r}")
    return _interval(Estimate.of(x, "| est"), 10.0**exp, decimals, unit)


def est_pct(x: Any, decimals: int = 1, unit: str = "") -> Raw:
    """An estimate of a fraction, in percent: {value: 0.023, lo: 0.019, hi: 0.028} | est_pct(1)
    -> "2.3 [1.9, 2.8]"; est_pct(1, unit="%") -> "2.3 [1.9, 2.8] %"."""
    return _interval(Estimate.of(x, "| est_pct"), 0.01, decimals, unit)


# ---- comparisons

def difference(a: Any, b: Any = None) -> dict[str, float | int]:
    """The estimate of a − b, for two independent estimates; given one estimate, that estimate
    (a paired difference a − b measured on shared noise already has its own interval).

    The interval combines the two by MOVER (Zou & Donner 2008; Newcombe 1998 for proportions):
        L = (a − b) − √((a − l_a)² + (u_b − b)²),   U = (a − b) + √((u_a − a)² + (b − l_b)²),
    i.e. each side's standard error is read from the half of its interval that faces the
    other estimate (SE = half-width / 1.96); for symmetric intervals this is the usual
    a − b ± 1.96·√(SE_a² + SE_b²). Its n is the smaller of the two."""
    if b is None:
        d = Estimate.of(a, "difference(d)")
        return {"value": d.value, "lo": d.lo, "hi": d.hi, "n": d.n}
    ea, eb = Estimate.of(a, "difference(a, b): a"), Estimate.of(b, "difference(a, b): b")
    d = ea.value - eb.value
    return {"value": d,
            "lo": d - math.hypot(ea.value - ea.lo, eb.hi - eb.value),
            "hi": d + math.hypot(ea.hi - ea.value, eb.value - eb.lo),
            "n": min(ea.n, eb.n)}


def compare(a: Any, b: Any = None) -> str:
    """The words a careful writer uses to compare a with b: "lower than", "higher than", or
    "indistinguishable at this sample size from".

    `compare(a, b)` takes two independent estimates; `compare(d)` one paired difference, read
    as a minus b. The rule: a and b are distinguishable only when the 95 % interval of their
    difference (see `difference`) excludes 0; then the sign of the difference picks the word.
    An interval that touches 0 is not distinguishable."""
    d = difference(a, b)
    if d["lo"] > 0:
        return HIGHER
    if d["hi"] < 0:
        return LOWER
    return SAME


def _defined(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` that first raises Jinja2's own error for an undefined argument, which names it
    ("'walsk' is undefined", "'dict object' has no attribute 'mmd'"), not "got Undefined"."""
    import functools

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for a in (*args, *kwargs.values()):
            fail = getattr(a, "_fail_with_undefined_error", None)
            if fail is not None and type(a).__name__.endswith("Undefined"):
                fail()
        return fn(*args, **kwargs)

    return checked


FILTERS: dict[str, Callable[..., Any]] = {
    "sig": sig, "fixed": fixed, "thousands": thousands, "percent": percent,
    "seconds": seconds, "raw": raw, "est": est, "est_pct": est_pct, "pow10": pow10,
}
GLOBALS: dict[str, Callable[..., Any]] = {"compare": compare, "difference": difference}
FILTERS = {k: _defined(f) for k, f in FILTERS.items()}
GLOBALS = {k: _defined(f) for k, f in GLOBALS.items()}
