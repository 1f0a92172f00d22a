"""Slices: which rows (definition), the groups of a column (grouping), how the model does on them
(report, discovery with FDR control, fairness gaps, curves), what-ifs on single datapoints, and the
charts of each."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "definition": ["Condition", "SliceDefinition"],
        "grouping": [
            "Grouping",
            "group_column",
            "group_values",
            "rows_grouping",
            "groupings_for",
            "sliceable_columns",
        ],
        "report": [
            "SliceReport",
            "SliceReportParams",
            "slice_report",
            "DiscoveryResult",
            "weak_slices",
            "FairnessParams",
            "FairnessResult",
            "fairness_gaps",
            "Curves",
            "curves",
            "ConfusionMatrix",
            "confusion_matrix",
            "worst_rows",
        ],
        "whatif": [
            "edit_and_predict",
            "Counterfactual",
            "nearest_counterfactual",
            "distances_to",
            "DependenceParams",
            "DependenceResult",
            "ice_curve",
            "partial_dependence",
            "PerturbationParams",
            "PerturbationResult",
            "perturbation_check",
            "threshold_metrics",
            "suggest_threshold",
        ],
        "columns": ["ColumnInfo", "column_info"],
        "comparison": ["SliceRows", "slice_rows"],
        "datapoint": ["DatapointOutcome", "datapoint_outcome"],
        "discovery_run": ["DiscoveryRun", "DiscoverySettings"],
        "datapoints": [
            "DatapointsSpec",
            "DatapointsResult",
            "Region",
            "box_slice",
            "disagreement",
        ],
        "charts": [],
        "datapoints_charts": ["datapoints_chart"],
    },
)
