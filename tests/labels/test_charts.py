"""Label charts that stay readable on sparse crowds of many labelers."""

from __future__ import annotations


def test_a_kappa_heatmap_prints_its_values_only_while_the_cells_can_hold_them():
    from explore.labels.charts import MAX_KAPPA_TEXT_LABELERS, kappa_heatmap
    from explore.labels.crowd import agreement
    from explore.labels.simulate import simulate_crowd

    def marks(n_labelers: int) -> list[str]:
        ann = simulate_crowd(400, n_labelers=n_labelers, n_classes=4, seed=1).ann
        spec = kappa_heatmap(agreement(ann, min_shared=3)).to_dict()
        return [layer["mark"]["type"] for layer in spec.get("layer", [spec])]

    assert marks(6) == ["rect", "text"]
    assert MAX_KAPPA_TEXT_LABELERS < 25 and marks(25) == [
        "rect"
    ]  # the sparse crowd of 25: no overlapping text


def test_a_kappa_heatmap_of_forty_labelers_names_every_row():
    """Found on a sparse crowd of 40 labelers (e-mail ids): rows are 18 px, room for a name each, but Vega's
    default overlap rule hid every other labeler's name, so half the rows could only be told apart by hovering."""
    from explore.labels.charts import kappa_heatmap
    from explore.labels.crowd import agreement
    from explore.labels.simulate import simulate_crowd

    ann = simulate_crowd(600, n_labelers=40, n_classes=4, seed=2).ann
    spec = kappa_heatmap(agreement(ann, min_shared=3)).to_dict()
    assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False
    assert spec["height"] == {"step": 18}
    assert len(spec["encoding"]["y"]["sort"]) == 40
