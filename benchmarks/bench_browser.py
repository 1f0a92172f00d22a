"""Browser benchmark: time to first render of each page, in headless Chromium, on the sample workspace and
on the 1M-row benchmark workspace.

    python benchmarks/bench_browser.py [--workspaces sample bench] [--rows 1000000]

For each workspace: serve it (`explore run`, fresh temporary store), open `/` once as the warm-up (it opens the
workspace and scores every dataset for the overall metrics), then open each page by its URL in a new session
and time it from the start of the navigation until the script is idle and every chart has drawn. "first" is
the first visit of the page on that server (its own analyses computed), "again" a second visit (Streamlit's
caches warm). Needs Debian's chromium and Python Playwright (see DEVELOPERS.md / .ci/run).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from common import ROOT, bench_workspace

from tests.browser.driver import PAGES, browser, exceptions, open_page_timed, serve, wait_charts

TIMEOUT = 1800  # seconds for one page: a 1M-row page that takes longer is reported as a failure


def _seed_review(db_url: str) -> None:
    """A rubric review with a few confirmed tests, so that the Rubric page draws all it can (an empty store
    shows only a prompt)."""
    from explore.core.store import Store
    from explore.rubric import ml_test_score

    store = Store(db_url)
    review = ml_test_score.start_review(store, "benchmark review", "bench")
    for test_id, status in [
        ("data-1", "automated"),
        ("model-1", "manual"),
        ("infra-1", "automated"),
        ("monitor-1", "manual"),
        ("monitor-2", "automated"),
    ]:
        ml_test_score.confirm_test(
            store, review, test_id, status=status, author="bench", evidence_text="seeded"
        )


def measure(workspace: Path) -> tuple[float, dict[str, dict[str, object]]]:
    """(warm-up seconds, {page title: {"idle": s, "first": s, "again": s, "charts": "drawn/n", "note": str}}).

    "idle": the first visit until the script was idle; "first"/"again": until every chart had drawn as well.
    """
    out: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'store.db'}"
        _seed_review(db_url)
        env = {"EXPLORE_USER": "bench", "EXPLORE_UPLOAD_DIR": str(Path(tmp) / "uploads")}
        with serve(workspace, db_url=db_url, env=env, timeout=300) as url, browser() as page:
            warm = open_page_timed(page, url, "", timeout=TIMEOUT)[1]
            print(f"  warm-up: / in {warm:.1f} s", flush=True)
            for visit in ("first", "again"):
                for path, title in PAGES.items():
                    idle, seconds = open_page_timed(page, url, path, timeout=TIMEOUT)
                    n, drawn = wait_charts(page, timeout=0)
                    row = out.setdefault(title, {})
                    row[visit] = seconds
                    if visit == "first":
                        row["idle"] = idle
                    row["charts"] = f"{drawn}/{n}"
                    if exceptions(page):
                        row["note"] = "exception box!"
                    elif page.get_by_role("button", name=re.compile("^Compute SHAP for")).count():
                        row["note"] = "SHAP estimated over 3 s: waits for its button"
                    print(
                        f"  {visit:5s} {title:<11s} idle {idle:6.2f} s, drawn {seconds:6.2f} s   charts {drawn}/{n}",
                        flush=True,
                    )
    return warm, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", nargs="+", choices=["sample", "bench"], default=["sample", "bench"])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the benchmark workspace")
    args = parser.parse_args()

    paths = {}
    if "sample" in args.workspaces:
        from explore.core.sample import SAMPLE_DIR, ensure_sample

        paths["sample"] = ensure_sample(SAMPLE_DIR)
    if "bench" in args.workspaces:
        paths["bench"] = bench_workspace(args.rows)
    results = {}
    for name, path in paths.items():
        print(f"{name}: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
        results[name] = measure(path)

    names = list(results)
    print(
        "\nTime to first render in the browser, seconds (page opened by URL in a new session, after one warm-up"
    )
    print(
        "visit of /). idle: script finished; first: and every chart drawn; again: a second visit, caches warm."
    )
    cols = ["idle", "first", "again"]
    header = f"{'page':<11s}" + "".join(f" | {n + ' ' + c:>13s}" for n in names for c in cols) + " | charts"
    print(header)
    print("-" * len(header))
    print(f"{'warm-up /':<11s}" + "".join(f" | {'':>13s} | {results[n][0]:13.2f} | {'':>13s}" for n in names))
    for title in PAGES.values():
        line = f"{title:<11s}"
        for n in names:
            row = results[n][1][title]
            line += "".join(f" | {row[c]:13.2f}" for c in cols)
        line += " | " + " ".join(str(results[n][1][title]["charts"]) for n in names)
        notes = [f"{n}: {results[n][1][title]['note']}" for n in names if results[n][1][title].get("note")]
        print(line + (f"   {'; '.join(notes)}" if notes else ""))


if __name__ == "__main__":
    main()
