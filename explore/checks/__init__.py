"""The tests before serving: model comparison with thresholds, a simple baseline, reproducibility,
model-spec checks, data expectations, training/serving skew, compatibility and key examples, numerical
stability, cost, banned features and train/evaluation overlap — and the registry that `explore check` runs."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "compare": [
            "Thresholds",
            "load_thresholds",
            "ComparisonResult",
            "compare_models",
        ],
        "baseline": ["BaselineResult", "simple_baseline"],
        "reproducibility": ["ReproResult"],
        "model_spec": ["SpecResult", "spec_checks"],
        "expectations": [
            "ExpectationSuite",
            "suite_from_data",
            "load_suite",
            "save_suite",
            "ValidationResult",
            "validate",
        ],
        "serving_skew": ["SkewResult", "feature_skew", "ShadowResult", "shadow_check"],
        "compatibility": [
            "CompatResult",
            "make_key_examples",
            "KeyExamplesResult",
            "verify_key_examples",
        ],
        "stability": [
            "StabilityResult",
            "numerical_stability",
            "CostResult",
            "serving_cost",
            "BannedResult",
            "banned_features",
        ],
        "overlap": ["OverlapResult", "train_eval_overlap"],
        "registry": ["CheckContext", "CheckResult", "run_checks", "tests_covered", "exit_code_for"],
        "suite_validation": ["SuiteValidation", "validate_datasets"],
        "kept": ["KeptRun", "EditorBase"],
        "choices": [],
        "tables": [],
        "charts": [],
    },
)
