"""Benchmark of `make preview`: edit -> page updated in the browser, median of 5 runs each.

    prose edit                 -> the page shows it             target <= 1 s
    template edit              -> the page shows it             target <= 2 s
    one figure's plotting code -> the page shows the new figure target <= its stage's time + 2 s

"Page updated" is measured in headless Chromium (Debian's /usr/bin/chromium, as the browser
tests; plain HTTP polling of Hugo's page when it is missing): from the save to the moment the
reloaded page holds the change. Each line also gives the stage's own run time (from the lock)
and the CPU time (user + sys) of the preview's processes (engine, workers, Hugo) over the runs,
since wall times on a shared machine are inflated by the others' load.

    python tests/bench/bench_preview.py            # the real post, fast profile (builds it first)
    python tests/bench/bench_preview.py --toy      # the toy project as a Hugo site (seconds)
    BENCH_PREVIEW_PROJECT=DIR python tests/bench/bench_preview.py   # a copy already built
    python tests/bench/bench_preview.py --gap 6    # 6 s between edits (default 1 s)

The gap matters for the figure: the preview keeps warm workers (imports done) and starts their
replacements only once idle (figures_pipeline/workers.py); edits 1 s apart find fewer of them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from pipeline_toy.harness import make_project  # noqa: E402
from post_helpers import copy_project  # noqa: E402
from site_helpers import http_get, wait_for  # noqa: E402

from figures_pipeline.cache import read_lock  # noqa: E402

RUNS = 5
GAP = 1.0  # seconds between one run's end and the next edit (--gap)
CHROMIUM = Path("/usr/bin/chromium")
SITE_PARTS = ("hugo.toml", "layouts", "assets", "archetypes")


class Case:
    """Where to edit for each kind of change, in one project."""

    def __init__(self, root: Path, toy: bool):
        self.root, self.toy = root, toy
        self.post = "toy" if toy else "generative-models"
        self.md = root / ("content/posts/toy.md" if toy else
                          "content/posts/generative-models.md")
        self.template = root / ("toy/templates/results.md.j2" if toy else
                                "blog/templates/mixture.md.j2")
        self.stage = "scatter" if toy else "mixture_figure"
        self.figure = "scatter" if toy else "mixture"
        self.url_path = f"/posts/{self.post}/"

    def prose(self, i: int) -> str:
        text = f"Bench prose edit {i}."
        self.md.write_text(re.sub(r"\n\nBench prose edit \d+\.\n$", "\n", self.md.read_text())
                           + f"\n{text}\n")
        return text

    def template_edit(self, i: int) -> str:
        text = f"Bench template edit {i}."
        source = re.sub(r"\n\nBench template edit \d+\.\n$", "\n", self.template.read_text())
        self.template.write_text(f"{source}\n{text}\n")
        return text

    def figure_edit(self, i: int) -> None:
        """A change to the figure's own code that changes its pixels (or its SVG)."""
        if self.toy:
            path, pattern = self.root / "toy/svg.py", r'(r=")(\d+)(")'
        else:  # the number of samples the mixture figure draws
            path, pattern = self.root / "blog/stages/intro.py", r"^(N_SHOWN = )(\d+)()"
        text = path.read_text()
        path.write_text(re.sub(pattern, lambda m: f"{m[1]}{int(m[2]) + 1}{m[3]}", text,
                               count=1, flags=re.M))

    def stage_key(self) -> str:
        return read_lock(self.root / "figures.lock")[self.post][self.stage]["key"]

    def stage_seconds(self) -> float:
        return read_lock(self.root / "figures.lock")[self.post][self.stage]["seconds"]


def cpu_seconds(pid: int) -> float:
    """user + sys of `pid`, its live descendants and the children they reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0.0, [pid], set()
    stats: dict[int, list[str]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stats[int(d.name)] = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                pass
    while todo:
        p = todo.pop()
        if p in seen or p not in stats:
            continue
        seen.add(p)
        f = stats[p]
        total += sum(int(x) for x in f[11:15]) / tick  # utime stime cutime cstime
        todo += [c for c, g in stats.items() if int(g[1]) == p]
    return total


def wait(predicate: Callable[[], object], timeout: float, every: float = 0.02):
    return wait_for(predicate, timeout, every, error=SystemExit)


class Page:
    """The post in Chromium (or over HTTP), to see when it shows a change."""

    def __init__(self, url: str):
        self.url = url
        self.browser = self.page = self.pw = None
        if CHROMIUM.is_file():
            from playwright.sync_api import sync_playwright

            self.pw = sync_playwright().start()
            self.browser = self.pw.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=["--no-sandbox"])
            self.page = self.browser.new_page()
            self.page.goto(url)
        self.mode = "Chromium" if self.page else "HTTP (no /usr/bin/chromium)"

    def has(self, text: str) -> bool:
        """Whether the loaded page holds `text` (the DOM's text: serialising the post's 1 MB of
        HTML every 20 ms, as page.content() does, would itself load the machine)."""
        if self.page is None:
            return text in (http_get(self.url) or "")
        try:
            return self.page.evaluate("t => document.documentElement.textContent.includes(t)",
                                      text)
        except Exception:  # noqa: BLE001 - the page is reloading
            return False

    def figure(self, stem: str) -> str:
        """The URLs the loaded page shows the figure `stem` with (its renditions); "" while the
        page loads."""
        if self.page is None:
            html = http_get(self.url) or ""
            return " ".join(sorted(set(re.findall(rf'[^"\s,]*/{stem}[^"\s,]*', html))))
        try:
            return self.page.evaluate(
                """stem => document.readyState !== "complete" ? "" :
                   [...document.querySelectorAll("img, source")]
                     .flatMap(e => [e.getAttribute("src"), e.getAttribute("srcset")])
                     .filter(s => s && s.includes("/" + stem)).sort().join(" ")""", stem)
        except Exception:  # noqa: BLE001 - the page is reloading
            return ""

    def close(self) -> None:
        if self.browser:
            self.browser.close()
            self.pw.stop()


def measure(label: str, runs: list[float], cpu: float, target: str,
            extra: str = "") -> None:
    print(f"{label}: median {statistics.median(runs):.2f} s over {len(runs)} runs "
          f"(min {min(runs):.2f}, max {max(runs):.2f}); preview CPU {cpu / len(runs):.2f} s "
          f"per run; {target}{extra}", flush=True)


def bench(root: Path, toy: bool) -> None:
    case = Case(root, toy)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(root / "preview.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "figures_pipeline", "preview", "--port",
                             str(port), "--profile", "fast", "--jobs", "2"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}{case.url_path}"
    page = None
    try:
        wait(lambda: http_get(url), 600, 0.2)
        status = re.search(r'const url = "([^"]+)"', http_get(url)).group(1)
        wait(lambda: '"busy": false' in (http_get(status) or ""), 900, 0.2)
        time.sleep(2)
        page = Page(url)
        print(f"page checked in {page.mode}; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs", flush=True)

        def text_case(label: str, edit: Callable[[int], str], target: float) -> None:
            runs, cpu = [], cpu_seconds(proc.pid)
            for i in range(RUNS):
                start = time.monotonic()
                text = edit(i)
                wait(lambda text=text: page.has(text), 60)
                runs.append(time.monotonic() - start)
                time.sleep(GAP)
            verdict = "ok" if statistics.median(runs) <= target else "SLOWER than"
            measure(label, runs, cpu_seconds(proc.pid) - cpu,
                    f"target <= {target:g} s: {verdict}", "; no stage ran")

        text_case("prose edit -> page updated   ", case.prose, 1.0)
        text_case("template edit -> page updated", case.template_edit, 2.0)

        runs, stages, cpu = [], [], cpu_seconds(proc.pid)
        for i in range(RUNS):
            before, key = page.figure(case.figure), case.stage_key()
            svg = http_get(f"{url}{case.figure}.svg") if toy else None
            start = time.monotonic()
            case.figure_edit(i)
            if toy:  # the SVG's URL does not change: the page reloads, the file is new
                wait(lambda svg=svg: http_get(f"{url}{case.figure}.svg") != svg, 120)
                wait(lambda: case.stage_seconds() and '"busy": false' in http_get(status), 120)
            else:  # the stage ran and was published, and the page shows new renditions
                wait(lambda before=before, key=key: case.stage_key() != key and (
                    lambda s: s and s != before)(page.figure(case.figure)), 300)
            runs.append(time.monotonic() - start)
            stages.append(case.stage_seconds())
            time.sleep(GAP)
        over = [r - s for r, s in zip(runs, stages, strict=True)]
        verdict = "ok" if statistics.median(over) <= 2.0 else "SLOWER than"
        measure(f"{case.stage} code -> figure updated", runs, cpu_seconds(proc.pid) - cpu,
                f"its stage ran median {statistics.median(stages):.2f} s; the rest (detect, "
                f"plan, start, publish, Hugo's rebuild, reload) median "
                f"{statistics.median(over):.2f} s, target <= 2 s: {verdict}")
    except SystemExit:
        tail = (root / "preview.log").read_text(errors="replace").splitlines()[-40:]
        print("the preview's last lines:\n" + "\n".join(tail), flush=True)
        raise
    finally:
        if page is not None:
            page.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
        log.close()


def main() -> int:
    global GAP
    toy = "--toy" in sys.argv[1:]
    if "--gap" in sys.argv[1:]:
        GAP = float(sys.argv[sys.argv.index("--gap") + 1])
    with tempfile.TemporaryDirectory() as tmp:
        if toy:
            root = make_project(Path(tmp), "site")
            for part in SITE_PARTS:
                src = REPO / part
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / part)
        elif prebuilt := os.environ.get("BENCH_PREVIEW_PROJECT"):
            root = Path(tmp) / "project"
            shutil.copytree(prebuilt, root, symlinks=True,
                            ignore=shutil.ignore_patterns("public", "preview.log"))
            # the engine and the site under test are the checkout's (`python -m` in the copy
            # would run the copy's own figures_pipeline): only the post and its outputs are old
            for part in ("figures_pipeline", *SITE_PARTS):
                (shutil.rmtree if (root / part).is_dir() else Path.unlink)(root / part)
                src = REPO / part
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / part)
        else:
            root = copy_project(Path(tmp) / "project")
            print("building the post with the fast profile first (minutes)...", flush=True)
            subprocess.run([sys.executable, "-m", "figures_pipeline", "build", "--profile",
                            "fast"], cwd=root, check=True, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        print(f"== preview latency ({'toy project' if toy else 'the real post'}, fast profile, "
              f"{GAP:g} s between edits)", flush=True)
        bench(root, toy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
