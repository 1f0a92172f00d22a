"""The meeting minutes (`explore report`) on the 1M-row workspace: time to build them, file size, and the time
Chromium takes to open the file from disk (network refused) until every chart is drawn — side by side with the
peer, one chart saved by Altair's own offline HTML (``chart.to_html(inline=True)``, the floor of any file that
inlines Vega), opened the same way in the same run.

    python benchmarks/bench_minutes.py [--rows 1000000] [--shap-rows 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import bench_workspace, timed


def open_seconds(page, path: Path) -> float:
    page.goto(f"file://{path}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.vega, .vega-embed')].length > 0 && "
        "[...document.querySelectorAll('div.vega, .vega-embed')].every(e => e.querySelector('svg.marks, canvas.marks'))",
        timeout=60_000,
        polling=20,
    )
    return page.evaluate("() => performance.now()") / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shap-rows", type=int, default=500)
    args = parser.parse_args()

    import altair as alt

    import explore
    from explore.core.store import Store
    from explore.report.html import spec_rows
    from explore.report.minutes import build_minutes, minutes_html
    from explore.rubric import ml_test_score as mts
    from tests.browser.driver import browser

    toml = bench_workspace(args.rows)
    out_dir = Path(tempfile.mkdtemp(prefix="bench_minutes_"))
    with timed(f"open the {args.rows:,}-row workspace"):
        ws = explore.open(toml)
    with Store(f"sqlite:///{out_dir / 'store.db'}") as store:
        rid = mts.start_review(store, "bench review", "v1")
        for t in ("data-1", "model-1", "infra-1", "monitor-1"):
            mts.confirm_test(store, rid, t, status="manual", author="bench", evidence_text="benchmark")
        with timed("a spot-check session of 50 items, 30 verdicts"):
            session = explore.start_spot_check(
                ws, name="bench spot", reviewer="bench", size=50, mode="random", store=store
            )
            items = explore.spot_check_items(session, store=store)
            for i, (key, label) in enumerate(
                zip(items["key"].astype(str)[:30], items["label"], strict=False)
            ):
                other = next(
                    c for c in sorted(set(items["label"].astype(str)) | {"yes", "no"}) if c != str(label)
                )
                wrong = i % 5 == 0
                explore.record_verdict(
                    session,
                    key,
                    "wrong" if wrong else "correct",
                    reviewer="bench",
                    corrected_label=other if wrong else None,
                    store=store,
                )
        t0 = time.perf_counter()
        with timed("build the minutes (scoring, slices, SHAP, over time, rubric)"):
            minutes = build_minutes(ws, store, shap_rows=args.shap_rows)
        with timed("write the HTML (inline libraries, a PNG per chart)"):
            doc = minutes_html(minutes)
        built = time.perf_counter() - t0
    ours = out_dir / "minutes.html"
    ours.write_text(doc, encoding="utf-8")
    charts = [c for s in minutes.sections for c in s.charts]
    rows = {c.title: spec_rows(c.spec) for c in charts}
    biggest = max(charts, key=lambda c: rows[c.title])
    peer = out_dir / "altair_inline.html"
    peer.write_text(alt.Chart.from_dict(biggest.spec).to_html(inline=True), encoding="utf-8")

    with browser(height=1200) as page:
        refused: list[str] = []
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(("file:", "data:", "blob:"))
                else (refused.append(r.request.url), r.abort())
            ),
        )
        ours_runs = [open_seconds(page, ours) for _ in range(3)]
        peer_runs = [open_seconds(page, peer) for _ in range(3)]
    print()
    print(f"workspace rows                         {args.rows:>12,}")
    print(
        f"sections available                     {sum(s.unavailable is None for s in minutes.sections)} of {len(minutes.sections)}"
    )
    print(f"charts / largest embedded data rows    {len(charts)} / {max(rows.values())} ({biggest.title})")
    print(f"minutes built + written                {built:10.1f} s")
    print(
        f"file size: minutes / Altair inline     {ours.stat().st_size / 1e6:8.2f} MB / {peer.stat().st_size / 1e6:.2f} MB"
    )
    print(
        f"open → all charts drawn, best of 3     minutes {min(ours_runs):.2f} s ({len(charts)} charts + tables) | "
        f"Altair inline, 1 chart {min(peer_runs):.2f} s | ratio {min(ours_runs) / min(peer_runs):.2f}x"
    )
    print(
        f"  every run (s): minutes {', '.join(f'{x:.2f}' for x in ours_runs)}; Altair {', '.join(f'{x:.2f}' for x in peer_runs)}"
    )
    print(f"network requests refused: {len(refused)}")


if __name__ == "__main__":
    main()
