"""explore/errors.py: every project exception, structured (a message plus fields)."""

from __future__ import annotations

import pytest

from explore import errors


def test_an_error_is_its_message_and_carries_fields():
    exc = errors.ModelError("The model file 'm.skops' is corrupt.", model_name="previous", path="m.skops")
    assert str(exc) == exc.message == "The model file 'm.skops' is corrupt."
    assert exc.model_name == "previous" and exc.fields == {"model_name": "previous", "path": "m.skops"}
    assert getattr(exc, "types", None) is None
    with pytest.raises(AttributeError):
        _ = exc.not_a_field
    assert exc.with_fields(model_name="current") is exc and exc.model_name == "current"


def test_untrusted_types_are_a_field():
    exc = errors.UntrustedTypesError("Accept these types.", ["a.B", "c.D"])
    assert exc.types == ["a.B", "c.D"] and exc.fields["types"] == ["a.B", "c.D"]
    assert isinstance(exc, errors.ModelError) and str(exc) == "Accept these types."


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (errors.RubricError, errors.ExploreError),
        (errors.RubricConflict, errors.RubricError),
        (errors.IdentityError, errors.ExploreError),
        (errors.ExperimentCancelled, errors.AnalysisError),
        (errors.SkipCheck, Exception),
    ],
)
def test_every_project_exception_lives_in_errors(cls, parent):
    assert issubclass(cls, parent) and cls.__module__ == "explore.errors"


def test_a_skipped_check_is_not_a_user_error():
    assert not issubclass(errors.SkipCheck, errors.ExploreError)


def test_the_no_model_message_is_one_template():
    text = errors.NO_MODEL_FILE.format(needs="The check runs the model", then="")
    assert (
        "predictions-only" in text and "no model file" in text and text.startswith("The check runs the model")
    )
