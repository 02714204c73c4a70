"""The command line: each command calls one library function; docstrings are the help.

Exit codes: 0 ok; 1 a stage failed, the post is stale, a generated section is wrong, a claim is
false, a file does not match its hash, or the OS refused a read or write; 2 a usage error (bad
option, config key or value, declaration, project file); 128 + N when signal N (INT, TERM, HUP)
stopped a build. Errors are one line.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import engine, signals
from .cache import BuildLockedError, LockError
from .claims import ClaimError, ClaimFalseError, summary
from .codehash import CodeError
from .config import ConfigError
from .project import ProjectError
from .sections import SectionError
from .stages import DeclarationError

USAGE_ERRORS = (ConfigError, DeclarationError, ProjectError, CodeError)
FAILURES = (engine.StageFailedError, engine.StaleError, engine.PublishError, SectionError,
            BuildLockedError, LockError, ClaimFalseError)


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--root and --post, shared by every command."""
    @click.option("--root", type=click.Path(file_okay=False), default=".", show_default=True,
                  help="Project root (holds figures.toml).")
    @click.option("--post", "posts", multiple=True, metavar="NAME",
                  help="Only this post (repeatable); default: every post in figures.toml.")
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--profile and --set, for the commands that resolve the config."""
    @click.option("--profile", default="default", show_default=True,
                  help="Config profile: 'default' is what the post publishes; 'fast' is a draft.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override one config value, e.g. --set ddpm.steps=300 (repeatable).")
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Build, check and inspect the figures and generated sections of the posts."""


@cli.command()
@click.argument("slug")
@click.option("--root", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Project root (holds figures.toml).")
@click.option("--package", metavar="NAME", help="The post's Python package (default: SLUG with "
              "'_' for '-').")
@click.option("--title", help="The page's title (default: from SLUG).")
def new(slug: str, root: str, package: str | None, title: str | None) -> None:
    """Start post SLUG: its figures.toml entry, a package with one example stage and plot
    module, a config with a fast profile, a template, and content/posts/SLUG.md."""
    from .scaffold import new_post

    made = new_post(root, slug, package, title)
    for f in made.files:
        click.echo(f"wrote {f}")
    click.echo(f"next: python -m figures_pipeline build --post {slug}  (or make figures "
               f"POST={slug}), then make serve POST={slug}")


@cli.command()
@common_options
@config_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Stages run at once (default: the number of cores).")
@click.option("--only", multiple=True, metavar="STAGE",
              help="Build only this stage and what it needs (repeatable).")
@click.option("--force", is_flag=True, help="Run the selected stages even if up to date.")
@click.option("--dry-run", "-n", is_flag=True, help="Say what would run and why; run nothing.")
@click.option("--no-wait", is_flag=True,
              help="Stop at once if another build is running (default: wait for it).")
def build(root: str, posts: tuple[str, ...], profile: str, overrides: tuple[str, ...],
          jobs: int | None, only: tuple[str, ...], force: bool, dry_run: bool,
          no_wait: bool) -> None:
    """Run the stale stages (restoring from the cache when it can) and rewrite the sections."""
    engine.build(root, engine.BuildOptions(profile, overrides, jobs or 0, only, force, dry_run,
                                           not no_wait, posts))
    if any(f.level == "error" for f in _page_findings(root, posts)):
        raise engine.StaleError("a post's page does not match its key (see above)")


def _page_findings(root: str, posts: tuple[str, ...]) -> list:
    """Print what Hugo will make of the selected posts' pages (pages.py); return the findings."""
    from .pages import check_pages

    found = check_pages(root, posts)
    for f in found:
        click.echo(str(f), err=True)
    return found


@cli.command()
@common_options
@click.option("--diff", is_flag=True, help="Show what each generated section would become.")
@click.option("--deep", is_flag=True,
              help="Also hash every cache object against its name (as `verify` does).")
def check(root: str, posts: tuple[str, ...], diff: bool, deep: bool) -> None:
    """Fail (exit 1) if the published post is stale or a claim is false. Runs nothing, imports
    no torch: the claims are judged over the values in figures.lock."""
    problems = engine.check(root, posts, deep)
    pages = _page_findings(root, posts)
    for p in problems:
        click.echo(f"stale: {p.post}/{p.stage}: {'; '.join(p.reasons)}" if p.post != "-" else
                   "\n".join(f"problem: {r}" for r in p.reasons))
        if diff and p.diff:
            click.echo(p.diff, nl=False)
    verdicts = [v for vs in engine.claim_verdicts(root, posts=posts).values() for v in vs]
    false = [v for v in verdicts if not v.holds]
    for v in false:
        click.echo(v.message())
    click.echo(summary(verdicts))
    if problems:
        raise engine.StaleError(f"{len(problems)} stale item(s); run `make figures`")
    if any(f.level == "error" for f in pages):
        raise engine.StaleError("a post's page does not match its key (see above)")
    if false:
        raise ClaimFalseError(f"{len(false)} false claim(s) over the values in figures.lock")
    click.echo("up to date: every stage and section matches figures.lock")


@cli.command()
@common_options
@click.option("--repair", is_flag=True,
              help="Delete the corrupt cache objects and entries and the stray temp files.")
def verify(root: str, posts: tuple[str, ...], repair: bool) -> None:
    """Hash every committed output and cache object against its recorded hash (exit 1 on any
    difference). Imports no stage."""
    from .verify import verify as run

    result = run(root, posts, repair)
    for f in result.findings:
        fixed = " (deleted)" if repair and f.repairable else ""
        click.echo(f"corrupt: {f}{fixed}")
    if result.findings and not (repair and all(f.repairable for f in result.findings)):
        raise engine.StaleError(f"{len(result.findings)} file(s) do not match their hashes"
                                + ("" if repair else "; `verify --repair` deletes the cache's, "
                                   "`make figures` rebuilds"))
    click.echo(f"ok: {result.outputs} committed output(s) and {result.objects} cache object(s) "
               "match their hashes")


@cli.command("list")
@common_options
@config_options
def list_(root: str, posts: tuple[str, ...], profile: str, overrides: tuple[str, ...]) -> None:
    """Every stage with its state: fresh, or stale and why; then the claims, judged over the
    values in figures.lock."""
    for pp in engine.states(root, profile, overrides, posts):
        for sp in pp.stages.values():
            state = "fresh" if not sp.reasons else "stale: " + "; ".join(sp.reasons)
            click.echo(f"{pp.post.name}/{sp.name}  {state}")
        try:
            verdicts = engine.claim_verdicts(root, profile, overrides, (pp.post.name,))
        except ClaimError as e:
            click.echo(f"{pp.post.name}/claims  not judged: {e}")
            continue
        for vs in verdicts.values():
            click.echo(f"{pp.post.name}/claims  {summary(vs)}")
            for v in vs:
                if not v.holds:
                    click.echo(f"  {v.message()}")


@cli.command()
@common_options
@click.option("--all", "everything", is_flag=True,
              help="Remove the whole cache, not only what figures.lock does not use.")
def clean(root: str, posts: tuple[str, ...], everything: bool) -> None:
    """Remove cache entries the lock does not use (with --all: the whole cache)."""
    engine.clean(root, everything, click.echo)


@cli.command()
@common_options
@click.option("--dot", is_flag=True, help="Print Graphviz dot instead of text.")
def graph(root: str, posts: tuple[str, ...], dot: bool) -> None:
    """The stage graph: each stage, what it needs, what it writes."""
    for pp in engine.states(root, posts=posts):
        if dot:
            click.echo(f'digraph "{pp.post.name}" {{')
        for name in pp.graph.order:
            st = pp.graph.stages[name]
            if dot:
                click.echo(f'  "{name}";')
                for u in st.after:
                    click.echo(f'  "{u}" -> "{name}";')
            else:
                needs = ", ".join(st.after) or "-"
                writes = ", ".join(st.outputs + st.artifacts) or "-"
                click.echo(f"{pp.post.name}/{name}  after: {needs}  writes: {writes}")
        if dot:
            click.echo("}")


@cli.command()
@common_options
@config_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Stages run at once (default: the number of cores).")
@click.option("--port", type=click.IntRange(1, 65535), default=1313, show_default=True,
              help="Hugo's port on 127.0.0.1.")
@click.option("--hugo", default="", metavar="PATH",
              help="The Hugo binary (default: the one of the pinned PyPI package).")
def preview(root: str, posts: tuple[str, ...], profile: str, overrides: tuple[str, ...],
            jobs: int | None, port: int, hugo: str) -> int:
    """Serve the site (hugo server on 127.0.0.1) and rebuild what an edit makes stale, live:
    the page shows the build's status, errors and false claims. Ctrl-C stops both."""
    import signal

    from .live import LiveOptions
    from .preview import PreviewError, PreviewOptions
    from .preview import preview as run

    try:
        code = run(root, PreviewOptions(port, hugo, LiveOptions(profile, overrides, jobs or 0,
                                                                 posts)))
    except PreviewError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        click.echo(f"preview stopped ({signal.Signals(signum).name}): Hugo and the "
                   "stages' workers are stopped; what finished is in the cache", err=True)
        return 128 + int(signum)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map exceptions to exit codes (0 ok, 1 failed/stale, 2 usage)."""
    if "NO_COLOR" not in os.environ and not sys.stderr.isatty():
        os.environ["NO_COLOR"] = "1"
    try:
        with signals.handled():
            code = cli.main(args=argv, prog_name="python -m figures_pipeline",
                            standalone_mode=False)
        return code if isinstance(code, int) else 0  # a command may return its exit code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt) as e:  # click wraps a ^C in Abort
        cause = e.__cause__ if isinstance(e, click.exceptions.Abort) else e
        stop = cause if isinstance(cause, signals.Interrupted) else signals.Interrupted()
        click.echo(str(stop), err=True)
        return stop.exit_code
    except FAILURES as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except USAGE_ERRORS as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except UnicodeDecodeError as e:  # a file the engine reads that is not UTF-8
        click.echo(f"error: a file is not UTF-8 text: {e}", err=True)
        return 2
    except OSError as e:  # the OS refused a read or write the engine did not expect to fail
        click.echo(f"error: {engine.os_reason(e)}", err=True)
        return 1
