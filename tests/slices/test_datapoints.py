"""explore.slices.datapoints and its chart: points up to 5,000 rows and a binned heat map beyond (counts and
error shares checked against pandas), zoom, facets, jittered categorical axes, two models, similarity (the
counterfactual search's own distance), box → slice conditions that select exactly the rows in the box, and
bad input (constant, all-missing, thousands of levels, time zones, one row)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import Scored
from explore.errors import AnalysisError
from explore.slices import datapoints as dp
from explore.slices import whatif
from explore.slices.datapoints_charts import BOX, CELL, MARKS, POINT, datapoints_chart
from explore.slices.definition import CORRECT, LABEL, LOSS, ROW, SCORE, TIME, Condition, SliceDefinition


def make_scored(n: int, *, seed: int = 0, shift: float = 0.0, name: str = "current") -> Scored:
    """A binary Scored of ``n`` synthetic rows (no model needed): numeric, categorical, tz-aware time,
    a constant and an all-missing column, and a 3,000-level id-like column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n),
            "code": [f"c{i}" for i in rng.integers(0, 3_000, n)],
            "flat": np.full(n, 7.0),
            "calls": rng.integers(0, 4, n),
            "empty": np.full(n, np.nan),
            "seen": pd.date_range("2024-01-01", periods=n, freq="min", tz="Europe/Paris"),
        }
    )
    rng2 = np.random.default_rng(0)  # the same labels for every model version
    y = (rng2.random(n) < 0.4).astype(np.int64)
    p1 = np.clip(0.3 + 0.4 * y + rng.normal(shift, 0.2, n), 0.001, 0.999)
    proba = np.column_stack([1 - p1, p1])
    pred = (p1 >= 0.5).astype(np.int64)
    classes = np.array(["no", "yes"], dtype=object)
    return Scored(
        dataset_name="data",
        model_name=name,
        task="binary",
        frame=frame,
        feature_names=["age", "city", "flat"],
        y=y,
        y_raw=classes[y],
        pred=pred,
        proba=proba,
        score=p1,
        classes=classes,
        positive_index=1,
        time=pd.Series(pd.date_range("2023-01-01", periods=n, freq="h"), name="t"),
        ids=np.arange(n) + 10_000,
        unavailable={},
        n_unlabeled=0,
    )


@pytest.fixture(scope="module")
def small() -> Scored:
    return make_scored(800)


@pytest.fixture(scope="module")
def large() -> Scored:
    return make_scored(60_000)


def spec_size(chart) -> int:
    return len(json.dumps(chart.to_dict()))


def test_small_view_draws_every_row_as_a_point(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE, color=CORRECT))
    assert res.mode == "points" and res.n_rows == small.n and len(res.points) == small.n
    row = res.points.set_index("position").loc[5]
    assert row["x"] == small.frame["age"][5] and row["y"] == pytest.approx(small.score[5])
    assert row["id"] == 10_005 and row["label"] == small.y_raw[5]
    assert row["color"] == str(bool(small.correct[5]))
    d = datapoints_chart(res).to_dict()
    layer = d["layer"][0]
    assert layer["mark"]["type"] == "circle"
    assert {p["name"]: p["views"] for p in d["params"]} == {POINT: [MARKS], BOX: [MARKS]}
    assert [t["title"] for t in layer["encoding"]["tooltip"]][:5] == [
        "id",
        "label",
        "prediction",
        "age",
        "score",
    ]
    assert d["datasets"] and sum(len(v) for v in d["datasets"].values()) == small.n


def test_large_view_is_a_heat_map_whose_cells_add_up(large: Scored) -> None:
    res = dp.datapoints(large, dp.DatapointsSpec(x="age", y=SCORE, cell_stat="error"))
    assert res.mode == "cells" and res.n_marks <= dp.MAX_POINTS
    assert res.cells["rows"].sum() == large.n
    # Cross-check one cell against pandas on the same bounds.
    c = res.cells.sort_values("rows").iloc[-1]
    age, s = large.frame["age"].to_numpy(), large.score
    inside = (age >= c["x"]) & (s >= c["y"])
    inside &= (age < c["x2"]) if c["x2"] < age.max() else (age <= c["x2"])
    inside &= (s < c["y2"]) if c["y2"] < s.max() else (s <= c["y2"])
    assert c["rows"] == inside.sum()
    assert c["share misclassified"] == pytest.approx((~large.correct[inside]).mean())
    assert c["value"] == c["share misclassified"]
    chart = datapoints_chart(res)
    d = chart.to_dict()
    assert d["layer"][0]["mark"]["type"] == "rect"
    assert {p["name"] for p in d["params"]} == {CELL, BOX}
    assert spec_size(chart) < 1_000_000


def test_choosing_a_cell_zooms_to_its_rows_as_points(large: Scored) -> None:
    spec = dp.DatapointsSpec(x=ROW, y=SCORE)
    res = dp.datapoints(large, spec)
    cell = int(res.cells.sort_values("rows").iloc[0]["cell"])
    region = dp.cell_region(res, cell)
    zoomed = dp.datapoints(large, spec, region=region)
    assert zoomed.mode == "points" and 0 < zoomed.n_rows <= dp.MAX_POINTS
    x, y = zoomed.points["x"], zoomed.points["y"]
    assert x.between(*region.x).all() and y.between(*region.y).all()
    with pytest.raises(AnalysisError, match="no cell"):
        dp.cell_region(res, -5)


def test_categorical_axis_is_jittered_and_thousands_of_levels_become_top_k_plus_other(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(x="city", y="code", color=None))
    assert res.x.kind == "nominal" and set(res.x.labels) == {"Paris", "Lyon", "Nice", "Lille"}
    offsets = res.points["x"] - res.points["x"].round()
    assert offsets.abs().max() <= dp.JITTER and offsets.std() > 0.05
    assert res.points["x_text"].iloc[0] == res.x.labels[int(round(res.points["x"].iloc[0]))]
    assert len(res.y.labels) == dp.AXIS_LEVELS and "(other)" in res.y.labels
    assert any("levels" in n and "(other)" in n for n in res.notes)
    enc = datapoints_chart(res).to_dict()["layer"][0]["encoding"]["x"]
    assert enc["axis"]["values"] == list(range(4)) and "Paris" in enc["axis"]["labelExpr"]


def test_box_becomes_conditions_that_select_the_rows_in_the_box(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE))
    sd = dp.box_slice(res, {"x": [30, 50], "y": [0.2, 0.6]}, SliceDefinition())
    assert [c.column for c in sd.conditions] == ["age", SCORE]
    want = small.frame["age"].between(30, 50).to_numpy() & (small.score >= 0.2) & (small.score <= 0.6)
    assert np.array_equal(sd.mask(small), want)
    # A nominal axis: the levels the box touches; a box over "(other)" keeps every other level too.
    res = dp.datapoints(small, dp.DatapointsSpec(x="city", y="code"))
    lyon, nice = res.x.labels.index("Lyon"), res.x.labels.index("Nice")
    sd = dp.box_slice(res, {"x": [min(lyon, nice) - 0.2, max(lyon, nice) + 0.2]}, SliceDefinition())
    got = set(small.frame["city"][sd.mask(small)])
    assert {"Lyon", "Nice"} <= got and len(got) == abs(lyon - nice) + 1
    other = res.y.labels.index("(other)")
    sd = dp.box_slice(res, {"y": [other - 0.3, other + 0.3]}, SliceDefinition())
    top = set(res.y.labels) - {"(other)"}
    assert not set(small.frame["code"][sd.mask(small)]) & top
    with pytest.raises(AnalysisError, match="narrows no column"):
        dp.box_slice(res, {"x": [-5, 50]}, SliceDefinition())


def test_time_axes_in_utc_and_a_box_on_time_selects_those_rows(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(x="seen", y=TIME, color=LABEL))
    assert res.x.kind == "temporal" and res.y.kind == "temporal"
    first = res.points.set_index("position").loc[0]
    assert first["x"] == pd.Timestamp("2023-12-31T23:00:00").value / 1e6  # 00:00 Paris = 23:00 UTC
    lo, hi = first["x"], first["x"] + 9 * 60_000
    sd = dp.box_slice(res, {"x": [lo, hi]}, SliceDefinition())
    assert sd.mask(small).sum() == 10 and sd.mask(small)[:10].all()
    assert datapoints_chart(res).to_dict()["layer"][0]["encoding"]["x"]["type"] == "temporal"


def test_facets_by_two_features_binned_when_numeric(large: Scored) -> None:
    spec = dp.DatapointsSpec(x="age", y=LOSS, facet_row="city", facet_col="age")
    res = dp.datapoints(large, spec)
    assert res.mode == "cells" and res.n_marks <= dp.MAX_POINTS
    assert set(res.cells["facet_row"]) == {f"city = {c}" for c in ["Lille", "Lyon", "Nice", "Paris"]}
    assert res.cells["facet_col"].nunique() == 4  # quantile bins of age
    by_city = res.cells.groupby("facet_row")["rows"].sum()
    assert by_city["city = Nice"] == (large.frame["city"] == "Nice").sum()
    d = datapoints_chart(res).to_dict()
    assert d["facet"]["row"]["field"] == "facet_row" and d["facet"]["column"]["field"] == "facet_col"
    first_300 = SliceDefinition((Condition(ROW, "range", hi=300),))
    small_res = dp.datapoints(large, spec, slice_def=first_300)
    assert small_res.mode == "points" and small_res.points["facet_row"].str.startswith("city = ").all()


def test_selected_datapoint_and_counterfactual_are_marked(small: Scored) -> None:
    cf = whatif.nearest_counterfactual(small, 3)
    res = dp.datapoints(small, dp.DatapointsSpec(), selected=3, counterfactual=cf.cf_position)
    assert list(res.highlights["role"]) == ["selected", "counterfactual"]
    assert list(res.highlights["position"]) == [3, cf.cf_position]
    rings = datapoints_chart(res).to_dict()["layer"][1]
    assert rings["mark"]["type"] == "point" and rings["encoding"]["stroke"]["field"] == "role"
    big = dp.datapoints(small, dp.DatapointsSpec(), selected=3, max_points=100)
    assert big.mode == "cells" and list(big.highlights["position"]) == [3]


def test_similarity_is_the_counterfactual_distance(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(color=dp.SIMILARITY), selected=3)
    dist = res.points.set_index("position")["color"]
    assert dist[3] == 0
    cf = whatif.nearest_counterfactual(small, 3, norm="l2")
    assert dist[cf.cf_position] == pytest.approx(cf.distance, rel=1e-5)
    other_class = small.pred != small.pred[3]
    assert dist[np.flatnonzero(other_class)].min() == pytest.approx(cf.distance, rel=1e-5)
    with pytest.raises(AnalysisError, match="selected datapoint"):
        dp.datapoints(small, dp.DatapointsSpec(color=dp.SIMILARITY))


def test_two_models_side_by_side_and_their_disagreements(small: Scored) -> None:
    prev = make_scored(small.n, seed=1, shift=0.1, name="previous")
    res = dp.datapoints(small, dp.DatapointsSpec(x=SCORE, y=dp.OTHER_SCORE, color=LABEL), other=prev)
    pts = res.points.set_index("position")
    assert (
        pts["y"][4] == pytest.approx(prev.score[4])
        and pts["other_prediction"][4] == prev.classes[prev.pred[4]]
    )
    only = dp.datapoints(small, dp.DatapointsSpec(color=dp.DISAGREE), other=prev, only_disagree=True)
    assert only.n_rows == int((small.pred != prev.pred).sum()) > 0
    assert set(only.points["color"]) == {"disagree"}
    with pytest.raises(AnalysisError, match="second model"):
        dp.datapoints(small, dp.DatapointsSpec(y=dp.OTHER_SCORE))
    with pytest.raises(AnalysisError, match="same dataset"):
        dp.datapoints(small, dp.DatapointsSpec(y=dp.OTHER_SCORE), other=make_scored(10))


def test_bad_input_draws_something_or_says_why(small: Scored) -> None:
    flat = dp.datapoints(small, dp.DatapointsSpec(x="flat", y=SCORE))
    assert flat.mode == "points" and any("constant" in n for n in flat.notes)
    flat_cells = dp.datapoints(small, dp.DatapointsSpec(x="flat", y="flat"), max_points=50)
    assert flat_cells.mode == "cells" and flat_cells.cells["rows"].sum() == small.n
    with pytest.raises(AnalysisError, match="all 800 rows are missing"):
        dp.datapoints(small, dp.DatapointsSpec(x="empty"))
    row_7 = SliceDefinition((Condition(ROW, "range", lo=7, hi=8),))
    one = dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE), slice_def=row_7)
    assert one.mode == "points" and one.n_rows == 1 and any("One row" in n for n in one.notes)
    assert datapoints_chart(one).to_dict()["layer"][0]["mark"]["type"] == "circle"
    no_row = SliceDefinition((Condition(ROW, "range", lo=small.n),))
    none = dp.datapoints(small, dp.DatapointsSpec(), slice_def=no_row)
    assert none.mode == "empty" and "No row" in none.notes[-1]
    with pytest.raises(AnalysisError, match="statistic"):
        dp.datapoints(small, dp.DatapointsSpec(cell_stat="median"))  # type: ignore[arg-type]


def test_clicks_read_from_the_selection_event() -> None:
    assert dp.clicked_position([{"position": 12}]) == 12
    assert dp.clicked_position([]) is None and dp.clicked_position(None) is None
    assert dp.clicked_cell([{"cell": 3.0}]) == 3


def test_pseudo_columns_filter_like_the_axes(small: Scored) -> None:
    sd = SliceDefinition().with_condition(dp.Condition(ROW, "range", lo=10, hi=19, hi_inclusive=True))
    assert np.flatnonzero(sd.mask(small)).tolist() == list(range(10, 20))
    sd = SliceDefinition().with_condition(dp.Condition(LOSS, "range", lo=1.0))
    assert np.array_equal(sd.mask(small), small.row_loss >= 1.0)


def test_the_busiest_heat_map_stays_under_a_megabyte(large: Scored) -> None:
    spec = dp.DatapointsSpec(ROW, SCORE, LABEL, facet_row="city", cell_stat="loss")
    res = dp.datapoints(large, spec, selected=3)
    assert res.mode == "cells" and len(res.cells) > 1_500 and res.n_marks <= dp.MAX_CELLS
    assert res.cells["rows"].sum() == large.n
    assert spec_size(datapoints_chart(res)) < 1_000_000


def test_distances_to_match_a_brute_force_count_with_missing_values(small: Scored) -> None:
    from dataclasses import replace

    rng = np.random.default_rng(3)
    frame = small.frame.copy()
    frame["w"] = rng.normal(0, 3, small.n)
    frame.loc[rng.random(small.n) < 0.2, "w"] = np.nan
    frame.loc[rng.random(small.n) < 0.1, "city"] = None
    sc = replace(small, frame=frame, feature_names=["age", "w", "city"])
    for pos in (0, int(np.flatnonzero(frame["w"].isna())[0])):
        for norm in ("l1", "l2"):
            terms = []
            for c in ("age", "w"):
                x = frame[c].to_numpy()
                d = np.abs(x - x[pos]) / np.nanstd(x)
                a_na, b_na = np.isnan(x[pos]), np.isnan(x)
                terms.append(np.where(a_na | b_na, np.where(a_na & b_na, 0.0, 1.0), d))
            city = frame["city"]
            same = (city == city[pos]) | (city.isna() & (city[pos] is None))
            terms.append((~same).to_numpy(dtype=float))
            t = np.column_stack(terms)
            want = t.sum(axis=1) if norm == "l1" else np.sqrt((t * t).sum(axis=1))
            got = whatif.distances_to(sc, pos, norm=norm)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_number_with_few_values_is_drawn_as_jittered_levels(small: Scored) -> None:
    res = dp.datapoints(small, dp.DatapointsSpec(x="calls", y=SCORE))
    assert res.x.kind == "nominal" and res.x.labels == ("0", "1", "2", "3")
    assert (res.points["x"] - res.points["x"].round()).abs().max() <= dp.JITTER
    sd = dp.box_slice(res, {"x": [0.8, 2.2]}, SliceDefinition())
    assert np.array_equal(sd.mask(small), small.frame["calls"].isin([1, 2]).to_numpy())


def test_counterfactual_search_is_the_nearest_by_distances_to_and_keeps_no_copy(small: Scored) -> None:
    """The search measures column by column from the frame (all rows, or the few candidates gathered), before
    and after the distances were prepared: its row is the brute-force nearest of the candidates, its
    differences add up to its distance, and what it keeps per dataset is one scale per numeric feature and
    1-byte codes per categorical one — no standardised copy of the rows."""
    from dataclasses import replace

    rng = np.random.default_rng(5)
    frame = small.frame.copy()
    frame.loc[rng.random(small.n) < 0.15, "age"] = np.nan
    frame.loc[rng.random(small.n) < 0.15, "city"] = None
    few = np.zeros(small.n, dtype=bool)
    few[rng.choice(small.n, 60, replace=False)] = True  # < a quarter of the rows: the gathered path
    frame["pick"] = few  # not a feature: only the slice below reads it
    few_rows = SliceDefinition((Condition("pick", "in", values=(True,)),))
    found = []
    for prepared in (False, True):
        sc = replace(small, frame=frame, feature_names=["age", "city", "flat", "calls"])
        if prepared:
            whatif.prepare_distances(sc)
        positions = (
            0,
            int(np.flatnonzero(frame["age"].isna())[0]),
            int(np.flatnonzero(frame["city"].isna())[0]),
        )
        for pos in positions:
            for norm in ("l1", "l2"):
                for mask, rows in ((None, None), (few, few_rows)):
                    cf = whatif.nearest_counterfactual(sc, pos, norm=norm, slice_def=rows)
                    cand = (sc.pred != sc.pred[pos]) & (np.ones(sc.n, bool) if mask is None else mask)
                    cand[pos] = False
                    d = whatif.distances_to(sc, pos, norm=norm)
                    assert cf.found and cand[cf.cf_position]
                    assert cf.distance == pytest.approx(d[cand].min(), rel=1e-12)
                    assert cf.cf_position == int(np.flatnonzero(cand)[np.argmin(d[cand])])  # first of ties
                    total = cf.differences["contribution"].sum()
                    assert (total if norm == "l1" else np.sqrt(total)) == pytest.approx(cf.distance, rel=1e-9)
                    found.append((cf.cf_position, cf.distance))
        kept = whatif._SCALE_CACHE[sc]
        assert set(kept) == {"age", "flat", "calls"} and all(isinstance(v, float) for v in kept.values())
        assert kept["flat"] == 1.0  # a constant column: no spread, differences count as they are
        assert kept["age"] == pytest.approx(np.nanstd(frame["age"]))
        assert set(whatif._CODES_CACHE.get(sc, {})) == ({"city"} if prepared else set())
    assert found[: len(found) // 2] == found[len(found) // 2 :]  # the same with the codes as without
    codes = whatif._CODES_CACHE[sc]["city"]
    assert codes.dtype == np.int8 and np.array_equal(codes < 0, frame["city"].isna().to_numpy())


def test_integer_ids_stay_integers_in_the_tooltip_with_or_without_rings(small: Scored) -> None:
    def ids(res) -> list:
        return [v["id"] for v in next(iter(datapoints_chart(res).to_dict()["datasets"].values()))]

    plain = ids(dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE)))
    ringed = ids(dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE), selected=5, counterfactual=9))
    assert plain[:3] == [10_000, 10_001, 10_002] and all(type(v) is int for v in plain + ringed)


def test_distances_prepared_ahead_give_the_same_search(small: Scored) -> None:
    """The page prepares the distance's scales and codes in the background once its chart is drawn: once per
    dataset, and the search finds the same row with them as without."""
    from dataclasses import replace

    cold = whatif.nearest_counterfactual(replace(small), 7, norm="l1")
    sc = replace(small)
    thread = whatif.prepare_distances_in_background(sc)
    assert thread is not None and whatif.prepare_distances_in_background(sc) is None  # once per dataset
    thread.join(timeout=60)
    assert set(whatif._SCALE_CACHE[sc]) == {"age", "flat"} and set(whatif._CODES_CACHE[sc]) == {"city"}
    warm = whatif.nearest_counterfactual(sc, 7, norm="l1")
    assert (warm.cf_position, warm.distance) == (cold.cf_position, cold.distance)
    pd.testing.assert_frame_equal(warm.differences, cold.differences)


def test_colour_by_a_time_column_reads_as_times(small: Scored) -> None:
    """A time-zone-aware column as the colour: epoch ms in UTC, encoded (legend and tooltip) as times."""
    res = dp.datapoints(small, dp.DatapointsSpec(x="age", y=SCORE, color="seen"))
    assert res.color.kind == "temporal"
    want = (
        small.frame["seen"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]").astype("int64")
    )
    assert np.array_equal(res.points.set_index("position")["color"].sort_index(), want.to_numpy(dtype=float))
    layer = datapoints_chart(res).to_dict()["layer"][0]["encoding"]
    assert layer["color"]["type"] == "temporal"
    assert [t["type"] for t in layer["tooltip"] if t["field"] == "color"] == ["temporal"]


@pytest.mark.parametrize("x", ["age", "city", TIME])
def test_ringing_a_view_after_the_fact_equals_drawing_it_ringed(small: Scored, large: Scored, x: str) -> None:
    """A click redraws the two rings, not the view: ringed() gives what datapoints(selected=…) gives, in dots
    and in heat-map cells alike, and the heat map leaves room for both rings under MAX_CELLS."""
    for sc, colour in ((small, CORRECT), (small, "city"), (large, CORRECT)):
        spec = dp.DatapointsSpec(x=x, y=SCORE, color=colour, facet_row="city")
        drawn = dp.datapoints(sc, spec, selected=5, counterfactual=17)
        later = dp.ringed(dp.datapoints(sc, spec), sc, selected=5, counterfactual=17)
        pd.testing.assert_frame_equal(later.highlights, drawn.highlights)
        pd.testing.assert_frame_equal(later.points, drawn.points)
        pd.testing.assert_frame_equal(later.cells, drawn.cells)
        assert list(drawn.highlights["role"]) == ["selected", "counterfactual"]
        assert drawn.n_marks <= max(dp.MAX_CELLS, len(drawn.points) + 2)
    with pytest.raises(AnalysisError, match="depends on the selected row"):
        dp.ringed(
            dp.datapoints(small, dp.DatapointsSpec(color=dp.SIMILARITY), selected=1),
            small,
            selected=2,
            counterfactual=None,
        )
