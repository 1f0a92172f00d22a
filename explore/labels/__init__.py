"""Label spot checks: annotations (from the workspace or an upload), agreement, consensus, labeler trust, the
model's view of the items (cross-validated probabilities kept in the store), the ranked review queue, review
sessions with verdicts on the store (and the flow of giving them), and their charts."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "crowd": [
            "Annotations",
            "workspace_annotations",
            "annotations_from_frame",
            "Agreement",
            "agreement",
            "Consensus",
            "consensus",
            "consensus_description",
            "confidence_summary",
            "majority_vote",
            "dawid_skene",
            "LabelerTrust",
            "labeler_trust",
            "ItemProbabilities",
            "model_probabilities",
            "cross_validated_probabilities",
            "Queue",
            "rank_queue",
        ],
        "review": [
            "ReviewSession",
            "create_session",
            "load_session",
            "list_sessions",
            "record_verdict",
            "SessionSummary",
            "summarize",
        ],
        "aggregate": [
            "regularised_dawid_skene",
            "model_assisted_consensus",
            "TrustIntervals",
            "trust_intervals",
        ],
        "simulate": ["SimulatedCrowd", "simulate_crowd"],
        "sources": ["AnnotationSource", "save_upload", "load_annotations"],
        "model_view": [
            "ModelView",
            "probability_choices",
            "load_cross_validation",
            "cross_validate_and_save",
        ],
        "spot_check": ["start_session", "give_verdict", "review_position"],
        "tables": ["queue_table", "flagged_labelers"],
        "charts": [],
    },
)
