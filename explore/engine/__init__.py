"""Datasets that are not loaded whole: Parquet files, folders, globs (hive partitions) and DuckDB tables,
analysed by queries in DuckDB (or the same queries on Apache Spark) with the same numbers as the in-memory path."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "source": [
            "EngineSource",
            "open_source",
            "row_count",
            "resolve_engine",
            "AUTO_ENGINE_ROWS",
            "ENGINES",
        ],
        "log": ["LogTable", "open_log"],
        "discovery": ["weak_slices", "loss_sql"],
        "grouping": ["EngineGrouping", "group_column"],
        "drift": [
            "reference_profile",
            "drift_by_window",
            "data_invariants",
            "default_outputs",
            "first_window",
            "drift_matrix",
            "DriftSample",
            "DRIFT_EXACT_ROWS",
        ],
        "sample": ["draw_sample", "SampleInfo", "SAMPLE_ROWS"],
        "spark": ["SparkConnection", "open_spark_source", "spark_session"],
        "metrics": [
            "EngineTable",
            "Grouping",
            "grouped_metrics",
            "overall_metrics",
            "by_columns",
            "by_time_window",
        ],
    },
)
