"""The model over time: time windows, performance per window, the staleness experiment (refit on
older data, test on newer), drift per feature × window, data invariants, and their charts."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "windows": ["TimeWindows", "time_windows", "windows_for", "Timeline", "workspace_timeline"],
        "experiment": [
            "PerformanceOverTime",
            "performance_over_time",
            "StalenessParams",
            "StalenessResult",
            "staleness_experiment",
        ],
        "drift": [
            "ReferenceProfile",
            "reference_profile",
            "DriftResult",
            "drift_by_window",
            "InvariantsResult",
            "data_invariants",
            "BucketShares",
            "bucket_shares",
        ],
        "estimation": [
            "ESTIMATED_METRICS",
            "PerformanceEstimate",
            "EstimationParams",
            "CalibrationResult",
            "EstimateWarning",
            "calibrate",
            "estimate_performance",
            "estimate_workspace",
        ],
        "charts": [],
        "layout": ["WindowSpec", "window_spec", "window_by", "cutoff_windows"],
        "reference": ["reference_options", "default_reference", "resolve_reference", "reference_rows"],
        "choices": ["MAIN_METRICS", "performance_metrics"],
        "tracking": ["DriftTracking", "track_drift"],
        "tables": [],
        "runs": [
            "ExperimentPlan",
            "RunStep",
            "plan_experiment",
            "next_step",
            "run_and_save",
            "run_on_workspace",
        ],
    },
)
