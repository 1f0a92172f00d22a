"""Where the first script run of a fresh server goes: app.py (router, sidebar, Workspace page) run once by Streamlit's
AppTest in a new process, under cProfile, as after `explore run WORKSPACE`.

    python benchmarks/profile_startup.py [WORKSPACE_TOML] [--top 25] [--empty-cache]

Prints the run's wall-clock and CPU seconds (CPU is what the load of a shared machine does not inflate), the
heavy packages the run imported, and the functions with the most cumulative time. ``--empty-cache`` deletes
``<workspace>/.explore-cache`` first (a first start: models loaded, every dataset scored). Streamlit itself is
imported before the clock starts (``streamlit run`` has imported it before the script runs); the import of the
app's own modules and of pandas, pyarrow … is inside the run, as it is for the server. Side by side, the peer:
the first run of a bare Streamlit script drawing one st.dataframe (which imports pandas and pyarrow too), in its
own fresh process, measured the same way.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

HEAVY = ("sklearn", "scipy", "skops", "altair", "shap", "duckdb", "sqlalchemy", "pyarrow", "pandas", "numba")

WRAPPER = """import cProfile, runpy, time
_pr = cProfile.Profile()
_t, _c = time.perf_counter(), time.process_time()
_pr.enable()
try:
    runpy.run_path({app!r}, run_name="__main__")
finally:
    _pr.disable()
    _pr.dump_stats({stats!r})
    with open({times!r}, "w") as _fh:
        _fh.write(f"{{time.perf_counter() - _t}} {{time.process_time() - _c}}")
"""


BARE_APP = """import streamlit as st
st.title("bare")
st.dataframe({"a": [1, 2, 3]})
"""


def first_run(
    script: Path, stats: Path, times: Path, env: dict[str, str]
) -> tuple[float, float, float, set[str]]:
    """Run ``script`` once under AppTest with the profiling wrapper: (wall, CPU, AppTest total, packages imported)."""
    os.environ.update(env)
    wrapper = (
        script.parent / f".profile_startup_{os.getpid()}.py"
    )  # beside the script: pages resolve from there
    wrapper.write_text(WRAPPER.format(app=str(script), stats=str(stats), times=str(times)))
    try:
        from streamlit.testing.v1 import AppTest

        before = set(sys.modules)
        t = time.perf_counter()
        at = AppTest.from_file(str(wrapper), default_timeout=600)
        at.run()
        outer = time.perf_counter() - t
    finally:
        wrapper.unlink(missing_ok=True)
    if at.exception:
        raise SystemExit(f"{script.name} raised: {at.exception[0].value}")
    wall, cpu = (float(x) for x in times.read_text().split())
    return wall, cpu, outer, {m.split(".")[0] for m in set(sys.modules) - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", default=str(ROOT / "sample_data" / "workspace.toml"))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--empty-cache", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime …")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # the peer's own process
    args = parser.parse_args()
    toml = Path(args.workspace).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        stats, times = Path(tmp) / "run.prof", Path(tmp) / "times.txt"
        if args.bare:
            script = Path(tmp) / "bare_app.py"
            script.write_text(BARE_APP)
            wall, cpu, _, imported = first_run(script, stats, times, {})
            print(
                f"peer: first script run of a bare Streamlit app (one st.dataframe): wall {wall:.2f} s, CPU {cpu:.2f} s"
            )
            print("  heavy packages imported by it:", ", ".join(h for h in HEAVY if h in imported) or "none")
            return
        if args.empty_cache:
            shutil.rmtree(toml.parent / ".explore-cache", ignore_errors=True)
        print(f"load average before: {os.getloadavg()}")
        env = {
            "EXPLORE_WORKSPACE": str(toml),
            "EXPLORE_DB_URL": f"sqlite:///{Path(tmp) / 'store.db'}",
            "EXPLORE_USER": os.environ.get("EXPLORE_USER", "profile"),
        }
        wall, cpu, outer, imported = first_run(ROOT / "app.py", stats, times, env)
        print(
            f"first script run of app.py on {toml.parent.name}: wall {wall:.2f} s, CPU {cpu:.2f} s "
            f"(AppTest total {outer:.2f} s)"
        )
        print("  heavy packages imported by the run:", ", ".join(h for h in HEAVY if h in imported) or "none")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--bare"], check=True, cwd=Path(__file__).parent)
        out = io.StringIO()
        pstats.Stats(str(stats), stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
