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
