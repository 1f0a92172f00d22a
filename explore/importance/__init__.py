"""Feature importance: SHAP (global, per slice, per row, with additivity checks), permutation and
drop-column cross-checks, and their charts."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "explain": [
            "ShapExplanation",
            "ExplainParams",
            "plan_explainer",
            "importance_table",
            "SliceComparison",
            "slice_vs_rest",
            "PermutationCheck",
            "permutation_check",
            "DropColumnResult",
            "drop_column_importance",
            "WaterfallSteps",
            "waterfall_steps",
        ],
        "charts": [],
        "rows": ["ExplainRows", "rows_to_explain", "parse_position", "RowOutcome", "row_outcome"],
        "budget": ["default_sample_size", "predict_seconds", "permutation_seconds"],
        "readout": ["outside_training", "improved_by_shuffling", "local_evidence"],
        "drop_experiment": ["drop_column_params", "experiment_key"],
    },
)
