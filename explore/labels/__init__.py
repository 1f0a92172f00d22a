"""Label spot checks: annotations, agreement, consensus, labeler trust, the ranked review queue, review
sessions with verdicts on the store, and their charts."""

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
        "charts": [],
    },
)
