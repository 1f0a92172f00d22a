"""The `explore` command.

explore                          open the app on the bundled sample workspace (built on first run)
explore run PATH [options]       open the app on PATH (a workspace.toml or its folder)
explore sample [--size …]        (re)build the sample workspace
explore check PATH […]           headless checks for CI (see docs/rubric.md)
explore report PATH --out F      the meeting minutes: one self-contained HTML file (see docs/rubric.md)

Exit codes: 0 done; 2 bad input (a workspace, option, environment variable or output path that is wrong; the
message says what and how to fix it); `explore check` has its own (docs/rubric.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from explore.core import settings
from explore.core.settings import max_upload_mb
from explore.errors import ExploreError

__all__ = ["APP", "main", "max_upload_mb", "streamlit_command"]

APP = Path(__file__).resolve().parents[2] / "app.py"


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def streamlit_command(
    workspace: Path, *, port: int | None, host: str | None, headless: bool, extra: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve app.py on ``workspace``.

    Only the server options the user gave (``port``, ``host``, ``headless``) are passed, so Streamlit's own
    configuration (STREAMLIT_SERVER_PORT, .streamlit/config.toml) applies to the others.
    """
    if not APP.exists():
        raise ExploreError(
            f"app.py was not found next to the explore package ({APP}). Run ml-explore from a clone installed with `pip install -e .`."
        )
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        # Streamlit's own limit is set just above ours so that our message, not Streamlit's, explains the limit.
        "--server.maxUploadSize",
        str(max_upload_mb() + 1),
        "--browser.gatherUsageStats",
        "false",
    ]
    if port is not None:
        cmd += ["--server.port", str(port)]
    if host:
        cmd += ["--server.address", host]
    if headless:
        cmd += ["--server.headless", "true"]
    cmd += extra
    env = dict(os.environ, **{settings.WORKSPACE.name: str(workspace)})
    return cmd, env


def _serve(workspace: Path, args: argparse.Namespace) -> int:
    from explore.core.workspace import read_workspace

    read_workspace(workspace)  # fail fast, with the message, before starting a server
    cmd, env = streamlit_command(
        workspace, port=args.port, host=args.host, headless=args.headless, extra=args.streamlit_args
    )
    # Without --port, Streamlit picks the port from its own configuration and prints the address itself.
    where = f" at http://{args.host or 'localhost'}:{args.port}" if args.port is not None else ""
    print(f"Opening {workspace}{where}", file=sys.stderr)
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def _report(args: argparse.Namespace) -> int:
    from explore.core.store import Store
    from explore.core.workspace import open_workspace, read_workspace
    from explore.report.minutes import build_minutes, check_out_path, minutes_html, write_minutes

    check_out_path(args.out)  # an unwritable path stops here, before minutes of work
    ws = open_workspace(read_workspace(args.workspace))
    _progress(0.1, f"Opened {ws.name}; computing the sections")
    with Store(args.db) as store:
        minutes = build_minutes(
            ws,
            store,
            review=args.review,
            session=args.session,
            by=args.by,
            window=args.window,
            shap_rows=args.shap_rows,
        )
    review = minutes.review
    if review is not None and review.review_id is not None:
        print(f"  Rubric review: #{review.review_id} {review.name!r} ({review.why})", file=sys.stderr)
    _progress(0.8, "Drawing the charts")
    out = write_minutes(args.out, minutes_html(minutes, png=not args.no_png))
    for section in minutes.sections:
        state = "not available: " + section.unavailable if section.unavailable else "written"
        print(f"  {section.title}: {state}", file=sys.stderr)
    print(out)
    return 0


def _report_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="write the meeting minutes: one self-contained HTML file (rubric, slices, importance, staleness, labels)",
        description="Write the readiness review's minutes as one HTML file that opens anywhere, offline.",
        epilog="Exit codes: 0 written; 2 bad input (the message says what is wrong and how to fix it).",
    )
    report.add_argument("workspace", type=Path, help="workspace.toml or the folder that holds it")
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write, e.g. minutes.html")
    report.add_argument(
        "--review", default=None, help="rubric review id or name (default: this workspace's newest)"
    )
    report.add_argument(
        "--session", type=int, default=None, help="spot-check session id (default: the workspace's newest)"
    )
    report.add_argument(
        "--by",
        action="append",
        default=None,
        help="column of the slice report (repeat; default: 3 categorical features)",
    )
    report.add_argument(
        "--window", default="month", help="time window of performance over time (default: month)"
    )
    report.add_argument("--shap-rows", type=int, default=500, help="rows SHAP explains (default: 500)")
    report.add_argument("--no-png", action="store_true", help="leave out the PNG download of each chart")
    report.add_argument(
        "--db", default=None, help="store URL (default: $EXPLORE_DB_URL or the local SQLite file)"
    )


def main(argv: list[str] | None = None) -> int:
    """The ``explore`` command: ``explore`` (the sample), ``explore run <workspace>``, ``explore sample``,
    ``explore check``, ``explore report``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        from explore.checks.registry import main as check_main

        return check_main(argv[1:])
    parser = argparse.ArgumentParser(prog="explore", description="Open a model and its datasets and test it.")
    sub = parser.add_subparsers(dest="command")
    serve_opts = argparse.ArgumentParser(add_help=False)
    serve_opts.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: Streamlit's, usually 8501)"
    )
    serve_opts.add_argument("--host", default=None, help="address to listen on (default: Streamlit's)")
    serve_opts.add_argument("--headless", action="store_true", help="do not open a browser")
    run = sub.add_parser("run", parents=[serve_opts], help="open the app on a workspace")
    run.add_argument("workspace", type=Path, help="workspace.toml or the folder that holds it")
    sample = sub.add_parser("sample", help="(re)build the sample workspace")
    sample.add_argument(
        "--dest", type=Path, default=None, help="folder (default: the checkout's sample_data/)"
    )
    sample.add_argument("--size", choices=["full", "tiny", "bench"], default="full")
    sample.add_argument("--rows", type=int, default=None, help="number of rows (bench size)")
    sub.add_parser("check", help="headless checks for CI: explore check workspace.toml --help")
    _report_parser(sub)
    run.epilog = "Options not listed here are passed on to `streamlit run` (e.g. --theme.base dark)."
    # `explore` with no command opens the sample workspace and takes the same server options.
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default=None)
    parser.add_argument("--headless", action="store_true")

    # Options we don't know (e.g. --theme.base dark) are passed on to `streamlit run`.
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command in ("sample", "report"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.streamlit_args = unknown
    try:
        if args.command == "sample":
            from explore.core.sample import SAMPLE_DIR, build_workspace

            path = build_workspace(
                args.dest or SAMPLE_DIR, size=args.size, n_rows=args.rows, progress=_progress
            )
            print(path)
            return 0
        settings.check_all()  # a bad environment variable stops here, before a sample build or a server
        if args.command == "run":
            return _serve(args.workspace, args)
        if args.command == "report":
            return _report(args)
        from explore.core.sample import SAMPLE_DIR, ensure_sample

        return _serve(ensure_sample(SAMPLE_DIR, progress=_progress), args)
    except ExploreError as exc:
        print(f"explore: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
