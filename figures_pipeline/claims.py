"""Claims: hand-written statements that the build checks against what the models did.

Prose keeps its freedom; a run-dependent sentence carries, beside it, the fact it rests on:

    DDIM leaves few samples between the modes. <!-- claim: ddim.off_mode.hi < 0.05 -->
    <!-- claim: compare(ddpm.paired_mmd2) == "indistinguishable at this sample size from" -->

A claim is an HTML comment `<!-- claim: EXPR -->` on one line (several per line allowed; Hugo
shows nothing), outside the generated regions and outside code (a fenced or indented code block,
an inline code span: there the syntax is shown, not obeyed). EXPR is a Jinja2 expression
evaluated with exactly the values, filters and globals the templates see (stage values, `config`,
`profile`, `timings`, `compare`, ...); it must be true or false. A figure's alt text and caption,
written in stage code, are protected the same way: `Figure(alt=..., claims=("EXPR", ...))`.

This module is the pure core: `find_claims(text, path)` parses, `evaluate(claims, values, env)`
judges; the engine reads the files and decides what a false claim costs (an error with the
published profile, a warning with a draft one).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sections import SectionError, find_regions

CLAIM = re.compile(r"<!--[ \t]*claim:(.*?)-->")
LOOSE = re.compile(r"<!--\s*claims?\b", re.IGNORECASE)
SHOWN = 100  # the longest value shown in a message, in characters


class ClaimError(SectionError):
    """A claim that cannot be judged (malformed, a syntax error, an unknown name, not a truth
    value); like a template error, one line starting with file:line."""


class ClaimFalseError(RuntimeError):
    """The published profile found a false claim (each was reported as it was judged)."""


@dataclass(frozen=True)
class Claim:
    expr: str
    where: str  # "content/posts/p.md:42" or "blog/stages/vae.py:17"


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    holds: bool
    seen: tuple[tuple[str, str], ...]  # (a name the expression read, its value), in order

    def message(self) -> str:
        """`where: claim false: EXPR  (name = value, ...)` (or `claim holds`)."""
        state = "claim holds" if self.holds else "claim false"
        values = ", ".join(f"{name} = {value}" for name, value in self.seen)
        return f"{self.claim.where}: {state}: {self.claim.expr}" + (
            f"  ({values})" if values else "")


def find_claims(text: str, path: str = "<text>") -> list[Claim]:
    """The claims of a Markdown text, in order. Raises ClaimError naming path:line for a
    malformed claim or one inside a generated region (and SectionError for a bad marker)."""
    from .markdown import code_lines, without_code_spans

    code = code_lines(text)
    regions = {line: r.name for r in find_regions(text, path)
               for line in range(r.begin_line + 1, r.end_line)}
    claims: list[Claim] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if lineno in code:
            continue
        live = without_code_spans(line)
        for loose in LOOSE.finditer(live):
            where = f"{path}:{lineno}"
            m = CLAIM.match(live, loose.start())
            if m is None:
                raise ClaimError(f"{where}: malformed claim {live[loose.start():].strip()!r}; "
                                 "write '<!-- claim: EXPR -->' on one line")
            if lineno in regions:
                raise ClaimError(f"{where}: a claim inside generated region "
                                 f"'{regions[lineno]}'; claims belong in the hand-written text")
            expr = line[m.start(1):m.end(1)].strip()
            if not expr:
                raise ClaimError(f"{where}: empty claim; write '<!-- claim: EXPR -->'")
            claims.append(Claim(expr, where))
    return claims


def declared(stages: Iterable[Any], root: Path) -> list[Claim]:
    """The claims of the figures that `stages` declare, each at the line of its stage module
    (relative to `root`) where the expression is written."""
    import inspect

    out: list[Claim] = []
    for st in stages:
        exprs = [e for _, fig in sorted(st.figures.items()) for e in fig.claims]
        if not exprs:
            continue
        file = Path(inspect.getsourcefile(st.fn) or sys.modules[st.module].__file__ or "")
        try:
            lines, first = inspect.getsourcelines(st.fn)  # from its first decorator
        except OSError:
            lines, first = [], 1
        rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)
        for expr in exprs:
            at = next((first + i for i, text in enumerate(lines) if expr in text), first)
            out.append(Claim(expr, f"{rel}:{at}"))
    return out


def evaluate(claims: Sequence[Claim], values: Mapping[str, Any], env: Any) -> list[Verdict]:
    """Judge each claim in the Jinja2 environment `env` over `values`. Raises ClaimError on a
    syntax error, an undefined name, a failing filter, or a result that is not True or False."""
    return [_judge(c, values, env) for c in claims]


def _judge(claim: Claim, values: Mapping[str, Any], env: Any) -> Verdict:
    import jinja2

    where, expr = claim.where, claim.expr
    try:
        tree = _parse(env, expr)
        result = env.compile_expression(expr, undefined_to_none=False)(**values)
        if isinstance(result, jinja2.Undefined):
            str(result)  # a StrictUndefined raises, naming what is missing
    except jinja2.TemplateSyntaxError as e:
        raise ClaimError(f"{where}: claim syntax error: {e.message}: {expr}") from None
    except jinja2.UndefinedError as e:
        raise ClaimError(f"{where}: undefined value in claim {expr}: {e.message}") from None
    except Exception as e:  # noqa: BLE001 - a filter or an operator may raise anything
        raise ClaimError(f"{where}: claim {expr}: {type(e).__name__}: {e}") from None
    if not isinstance(result, bool):
        raise ClaimError(f"{where}: claim {expr} is {_show(result)} (a {type(result).__name__}),"
                         " not true or false")
    seen = tuple((text, _show(value)) for text, value in _read(tree, values, env))
    return Verdict(claim, result, seen)


def _parse(env: Any, expr: str) -> Any:
    """The expression's syntax tree, as `Environment.compile_expression` parses it."""
    from jinja2.parser import Parser

    parser = Parser(env, expr, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        parser.fail(f"unexpected {parser.stream.current.value!r} after the expression")
    return tree


_UNREAD = object()  # a path a guarded claim did not need, and that is not there


def _read(tree: Any, values: Mapping[str, Any], env: Any) -> list[tuple[str, Any]]:
    """The value paths the expression reads (`ddim.off_mode.hi`, `config.ddpm.steps`,
    `m['x']`) with their values: the longest attribute/item chains on a name among `values`,
    in order, each looked up as Jinja2 does (`env.getattr`, `env.getitem`)."""
    import jinja2
    from jinja2 import nodes

    out: dict[str, Any] = {}

    def path(node: Any) -> tuple[str, Any] | None:
        if isinstance(node, nodes.Name):
            return (node.name, values[node.name]) if node.name in values else None
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
                return None
            base = path(node.node)
            if base is None:
                return None
            text, value = base
            if isinstance(node, nodes.Getattr):
                text, value = f"{text}.{node.attr}", env.getattr(value, node.attr)
            else:
                text, value = f"{text}[{node.arg.value!r}]", env.getitem(value, node.arg.value)
            return text, _UNREAD if isinstance(value, jinja2.Undefined) else value
        return None

    def visit(node: Any) -> None:
        found = path(node)
        if found is not None:
            out.setdefault(*found)
            return
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return list(out.items())


def _show(value: Any) -> str:
    """A value for a message: numbers exact (shortest repr), an estimate as `v [lo, hi] (n=N)`,
    other mappings and lists as JSON."""
    if value is _UNREAD:
        return "undefined"
    if isinstance(value, Mapping) and {"value", "lo", "hi", "n"} <= set(value):
        text = f"{value['value']!r} [{value['lo']!r}, {value['hi']!r}] (n={value['n']!r})"
    elif isinstance(value, float | int | bool) or value is None:
        text = repr(value)
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 3] + "..."


def summary(verdicts: Sequence[Verdict]) -> str:
    """`3 claims checked: all hold` / `3 claims checked: 1 false`."""
    false = sum(not v.holds for v in verdicts)
    n = len(verdicts)
    noun = "claim" if n == 1 else "claims"
    return f"{n} {noun} checked: " + (f"{false} false" if false else
                                       "all hold" if n else "none in the post")
