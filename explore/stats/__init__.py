"""Metrics with confidence intervals and support, per group and overall; paired tests of two models
scored on the same rows."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "metrics": [
            "MetricDef",
            "overall_metrics",
            "grouped_metrics",
            "wilson_interval",
            "clamp_interval",
            "default_metrics",
            "available_metrics",
            "metric_direction",
        ],
        "paired": [
            "mcnemar_pvalue",
            "agresti_min",
            "DeLongResult",
            "delong_paired",
            "grouped_delong",
            "grouped_midrank",
            "z_value",
            "check_confidence",
        ],
    },
)
