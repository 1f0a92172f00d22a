"""The meeting minutes (`explore report`): sections, escaped text, embedded chart specs and PNGs, sections that
are not available with the reason, unwritable paths and the CLI's exit codes. The HTML is parsed, not grepped."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explore
from explore.cli.commands import main
from explore.core.store import Store
from explore.errors import ReportError
from explore.report import html as report_html
from explore.report.minutes import build_minutes, minutes_html, write_minutes
from explore.rubric import ml_test_score as mts
from tests.hostile import PAYLOADS, markup_in

# Payloads short enough to be a column name or a review name (the 20,000-character one is a note below).
NAMES = ["script", "img_onerror", "iframe_srcdoc", "svg_onload", "javascript_link", "md_link", "style"]


class _Doc(HTMLParser):
    """Sections by id with their text, the chart specs by id, the PNG links, the unavailable notes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, list[str]] = {}
        self.specs: dict[str, str] = {}
        self.pngs: list[tuple[str, str]] = []
        self.unavailable: list[str] = []
        self.scripts = 0
        self._section: str | None = None
        self._spec: str | None = None
        self._in_unavailable = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._section = a["id"]
            self.sections[self._section] = []
        if tag == "script":
            self.scripts += 1
            if a.get("type") == "application/json":
                self._spec = a["id"]
                self.specs[self._spec] = ""
        if tag == "a" and "download" in a:
            self.pngs.append((a["download"], a["href"]))
        if tag == "p" and a.get("class") == "unavailable":
            self._in_unavailable = True
            self.unavailable.append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        if tag == "script":
            self._spec = None
        if tag == "p":
            self._in_unavailable = False

    def handle_data(self, data):
        if self._spec is not None:
            self.specs[self._spec] += data
        elif self._section is not None:
            self.sections[self._section].append(data)
        if self._in_unavailable:
            self.unavailable[-1] += data

    def text(self, section: str) -> str:
        return "".join(self.sections[section])


def parse(doc: str) -> _Doc:
    parser = _Doc()
    parser.feed(doc)
    parser.close()
    return parser


def own_markup(doc: str) -> list[str]:
    """What markup_in finds beyond the file's own: its charset, style, scripts and PNG download links."""
    own = {"<meta>", "<style>", "<script>"}
    return [f for f in markup_in(doc) if f not in own and not f.startswith("<a href='data:image/png;base64,")]


@pytest.fixture(scope="module")
def ws(tiny_workspace: Path) -> explore.Workspace:
    return explore.open(tiny_workspace)


@pytest.fixture
def store(db_url: str):
    with Store(db_url) as s:
        yield s


def _review(
    store: Store,
    name: str = "churn v3",
    note: str = "schema checked in CI",
    ws: explore.Workspace | None = None,
) -> int:
    rid = mts.start_review(store, name, "v3", workspace=str(ws.config.path) if ws is not None else None)
    mts.confirm_test(store, rid, "data-1", status="automated", author="ada", evidence_text=note)
    mts.confirm_test(store, rid, "model-2", status="manual", author="bob", links=["https://ok.example/a"])
    return rid


def test_minutes_hold_every_section_with_its_numbers_and_charts(ws, store, db_url):
    rid = _review(store, ws=ws)
    session = explore.start_spot_check(ws, name="spot", reviewer="ada", size=6, mode="random")
    items = explore.spot_check_items(session)
    explore.record_verdict(session, str(items.iloc[0]["key"]), "correct", reviewer="ada")
    explore.record_verdict(session, str(items.iloc[1]["key"]), "wrong", reviewer="ada", corrected_label="x")

    minutes = build_minutes(ws, store, by=["region"], shap_rows=60)
    doc = minutes_html(minutes)
    parsed = parse(doc)

    assert list(parsed.sections) == ["rubric", "slices", "importance", "staleness", "labels"]
    assert parsed.unavailable == []
    rubric = parsed.text("rubric")
    board = mts.load_review(store, rid)
    assert f"{board.score().final:g}" in rubric and "schema checked in CI" in rubric and "ada" in rubric
    # the slice report's numbers are the notebook's (the same function), with intervals and support
    table = explore.slice_report(ws, by=["region"]).to_frame()
    first = table.iloc[0]
    assert f"{first['ci_low']:.4g}" in parsed.text("slices") and str(int(first["support"])) in parsed.text(
        "slices"
    )
    summary = explore.spot_check_summary(session)
    labels = parsed.text("labels")
    assert f"{summary.error_rate.value:.1%}" in labels and "1 wrong of 2" in labels
    assert "Mean |SHAP| per feature" in parsed.text("importance")

    # every chart: a Vega-Lite spec that parses, at most 5,000 rows embedded, a real PNG to download
    specs = {k: json.loads(v) for k, v in parsed.specs.items()}
    assert len(specs) == sum(len(s.charts) for s in minutes.sections) >= 6
    assert all(
        "vega-lite" in s["$schema"] and report_html.spec_rows(s) <= report_html.MAX_MARKS
        for s in specs.values()
    )
    assert len(parsed.pngs) == len(specs)
    for name, href in parsed.pngs:
        assert name.endswith(".png") and base64.b64decode(href.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # offline: the chart libraries are inlined, nothing is fetched
    assert "vegaEmbed" in doc and "cdn.jsdelivr" not in doc and "<script src" not in doc
    assert parsed.scripts == len(specs) + 2  # the specs, the libraries and the drawing script
    assert own_markup(doc) == []


def test_missing_inputs_make_sections_say_why(tmp_path, db_url):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    ws = explore.Workspace.from_predictions(
        y, scores=rng.random(300), features=pd.DataFrame({"g": rng.choice(list("ab"), 300)})
    )
    with Store(db_url) as store:
        minutes = build_minutes(ws, store)
    parsed = parse(minutes_html(minutes, png=False))
    reasons = dict(zip([s.key for s in minutes.sections if s.unavailable], parsed.unavailable, strict=True))
    assert set(reasons) == {
        "rubric",
        "importance",
        "staleness",
        "labels",
    }  # the slice report needs none of these
    assert all(r.startswith("Not available because ") for r in reasons.values())
    assert "no rubric review" in reasons["rubric"] and "predictions only" in reasons["importance"]
    assert "spot-check session" in reasons["labels"]
    assert parsed.pngs == []


def test_no_workspace_still_writes_the_review(store):
    _review(store)
    minutes = build_minutes(None, store)
    assert [s.unavailable is None for s in minutes.sections] == [True, False, False, False, False]
    assert "no workspace is open" in minutes.sections[1].unavailable


def test_the_report_uses_the_newest_review_of_its_own_workspace(tiny_workspace, db_url, tmp_path, capsys):
    ws = explore.open(tiny_workspace)
    out = tmp_path / "minutes.html"
    args = [
        "report",
        str(tiny_workspace),
        "--out",
        str(out),
        "--shap-rows",
        "30",
        "--by",
        "region",
        "--no-png",
    ]
    with Store(db_url) as store:
        mts.start_review(store, "other team's review", "v9", workspace="/elsewhere/workspace.toml")
        # this workspace has none: a clear reason, naming the reviews that are there, not another's review
        section = build_minutes(ws, store, by=["region"], shap_rows=30).section("rubric")
        assert section.unavailable is not None
        assert "no rubric review of this workspace" in section.unavailable
        assert str(ws.config.path) in section.unavailable and "other team's review" in section.unavailable
        assert main(args) == 0
        assert "no rubric review of this workspace" in parse(out.read_text(encoding="utf-8")).text("rubric")
        # a review that recorded no workspace (the API without ws=, or started before reviews recorded theirs) is
        # still reported — said so — rather than nothing: an existing user's `explore report` keeps its review
        mts.start_review(store, "notebook review", "v9")
        section = build_minutes(ws, store, by=["region"], shap_rows=30).section("rubric")
        assert section.unavailable is None and section.title.endswith("notebook review")
        capsys.readouterr()
        assert main(args) == 0
        assert "the newest review recorded without a workspace" in capsys.readouterr().err

        own = _review(store, "ours", ws=ws)
        mts.start_review(store, "newer, of another workspace", "v9", workspace="/elsewhere/workspace.toml")
        # a review started on the Rubric page before reviews recorded their workspace: found by its model version
        minutes = build_minutes(ws, store, by=["region"], shap_rows=30)
    assert minutes.review.review_id == own and minutes.section("rubric").title.endswith("ours")
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"Rubric review: #{own} 'ours' (the newest review of this workspace)" in err
    text = parse(out.read_text(encoding="utf-8")).text("rubric")
    assert "the newest review of this workspace" in text and "newer, of another workspace" not in text
    # no workspace open: the store's newest
    with Store(db_url) as store:
        assert build_minutes(None, store).review.name == "newer, of another workspace"


def test_a_review_from_before_reviews_recorded_their_workspace_is_found_by_its_model_version(ws, store):
    from explore.rubric.board import default_model_version

    legacy = mts.start_review(store, "legacy", default_model_version(ws))  # as the page proposed it
    mts.start_review(store, "unrelated", "v1")
    assert build_minutes(ws, store, by=["region"], shap_rows=30).review.review_id == legacy


@pytest.mark.parametrize("key", NAMES)
def test_hostile_names_notes_and_columns_stay_text(key, tmp_path, db_url):
    payload = PAYLOADS[key]
    rng = np.random.default_rng(1)
    n = 400
    features = pd.DataFrame({payload: rng.choice(["a", payload], n), "x": rng.normal(size=n)})
    ws = explore.Workspace.from_predictions(
        rng.integers(0, 2, n),
        scores=rng.random(n),
        features=features,
        time=pd.date_range("2024-01-01", periods=n, freq="D"),
    )
    with Store(db_url) as store:
        rid = mts.start_review(store, payload, payload)
        mts.confirm_test(
            store, rid, "data-1", status="manual", author=payload, evidence_text=PAYLOADS["long"] + payload
        )
        mts.confirm_test(store, rid, "data-2", status="manual", author="x", links=[payload.replace(" ", "")])
        minutes = build_minutes(ws, store, by=[payload])
    doc = minutes_html(minutes, png=False)
    parsed = parse(doc)
    assert own_markup(doc) == [], key
    assert payload in parsed.text("rubric") and payload in parsed.text("slices")  # shown exactly as typed
    for spec in parsed.specs.values():
        json.loads(spec)  # a payload inside a spec neither ends its <script> nor breaks the JSON
    assert "</script><script>" not in "".join(parsed.specs.values())


def test_script_json_cannot_end_its_element():
    text = report_html.script_json({"name": "</script><script>alert(1)</script>", "sep": "\u2028"})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script>"


def test_a_chart_past_the_mark_limit_is_refused():
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "data": {"values": [{"a": i} for i in range(5001)]},
    }
    with pytest.raises(ValueError, match="5,001 data rows"):
        report_html.chart_block(spec, index=1, title="too big", png=False)


def test_unwritable_output_is_a_message(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        write_minutes(tmp_path / "missing" / "m.html", "x")
    with pytest.raises(ReportError, match="is a folder"):
        write_minutes(tmp_path, "x")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ReportError, match="is a file, not a folder"):
        write_minutes(tmp_path / "a-file" / "m.html", "x")
    # /proc takes no new files, even from root (who passes every permission check): the OS error, explained
    with pytest.raises(ReportError, match=r"could not be written to /proc/m\.html: .*Choose a path"):
        write_minutes("/proc/m.html", "x")


def test_cli_writes_the_file_and_exits_2_on_bad_input(tiny_workspace, db_url, tmp_path, capsys):
    with Store(db_url) as store:
        _review(store, ws=explore.open(tiny_workspace))
    out = tmp_path / "minutes.html"
    assert (
        main(
            [
                "report",
                str(tiny_workspace),
                "--out",
                str(out),
                "--shap-rows",
                "50",
                "--by",
                "region",
                "--no-png",
            ]
        )
        == 0
    )
    parsed = parse(out.read_text(encoding="utf-8"))
    assert list(parsed.sections) == ["rubric", "slices", "importance", "staleness", "labels"]
    assert str(out) in capsys.readouterr().out
    assert main(["report", str(tiny_workspace), "--out", str(tmp_path / "no" / "m.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(tiny_workspace), "--out", str(out), "--review", "nope"]) == 2
    assert "no rubric review 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    # Options that name something are checked before the analyses, not written as "not available" sections.
    for option, words in [
        (["--by", "regoin"], "--by names the column 'regoin', which dataset 'validation' does not have"),
        (["--window", "fortnight"], "--window must be 'day', 'week', 'month', 'quarter'"),
        (["--shap-rows", "0"], "--shap-rows must be a whole number of rows, at least 1"),
    ]:
        assert main(["report", str(tiny_workspace), "--out", str(tmp_path / "bad.html"), *option]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "bad.html").exists()


def test_free_text_columns_are_not_default_slices_and_long_labels_are_cut(tmp_path, db_url):
    # A crowd-labelled corpus: a document column beside a short category. The minutes used to pick the
    # document column as a slice and vl-convert never finished measuring its 100 kB axis labels.
    rng = np.random.default_rng(1)
    n = 300
    features = pd.DataFrame(
        {
            "text": [
                f"doc {i} " + "lorem ipsum <b>dolor</b> " * int(rng.integers(200, 2000)) for i in range(n)
            ],
            "source": rng.choice(["forum", "mail", "chat"], n),
        }
    )
    y = rng.integers(0, 2, n)
    ws = explore.Workspace.from_predictions(y, scores=rng.random(n), features=features)
    from explore.report.minutes import default_slice_columns

    assert default_slice_columns(ws) == ["source"]
    with Store(db_url) as store:
        minutes = build_minutes(ws, store, by=["text"])  # asked for explicitly: written, labels cut
    doc = minutes_html(minutes, png=True)
    assert "Download PNG" in doc and "slice(datum.label" in doc
    spec = next(c.spec for s in minutes.sections for c in s.charts)
    import vl_convert

    svg = vl_convert.vegalite_to_svg(report_html.file_spec(spec), vl_version=report_html._vl_version())
    longest = max(len(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert longest <= report_html.LABEL_CHARS


def test_file_spec_keeps_a_charts_own_label_expression_and_drops_fit_without_a_width():
    spec = {"mark": "bar", "config": {"axis": {"labelExpr": "'x'"}, "view": {"stroke": None}}}
    out = report_html.file_spec(spec)
    assert out["config"]["axis"]["labelExpr"] == "'x'" and out["config"]["view"] == {"stroke": None}
    assert "slice(datum.label" in out["config"]["legend"]["labelExpr"]
    assert "legend" not in spec["config"]  # the input is not changed
    fit = {"type": "fit-x", "contains": "padding"}
    assert "autosize" not in report_html.file_spec({"mark": "bar", "autosize": fit})
    assert report_html.file_spec({"mark": "bar", "autosize": fit, "width": 400})["autosize"] == fit


def test_the_status_grid_legend_is_whole_in_the_file(store):
    # The rubric's charts fit the page's column (autosize fit-x); in a file Vega dropped the fit and cut the
    # legend at the picture's right edge ("automated" became "a"). Drawn as the file draws it, the right edge
    # is white margin.
    import io

    import vl_convert
    from PIL import Image

    from explore.rubric import charts as rubric_charts

    score = mts.load_review(store, _review(store)).score()
    spec = report_html.file_spec(rubric_charts.status_grid(score).to_dict())
    png = vl_convert.vegalite_to_png(spec, vl_version=report_html._vl_version(), scale=1)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert pixels[:, -3:].min() == 255
