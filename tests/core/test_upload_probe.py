"""What the upload form needs before it saves (explore/core/upload_probe.py)."""

from __future__ import annotations

import pytest

from explore.core.upload_probe import NO_COLUMN, column_roles, default_label_index, is_pickle, probe_columns
from explore.errors import DataError


def test_probe_reads_the_columns_of_a_csv_and_a_parquet(tmp_path):
    assert probe_columns("data.csv", b"age,city,income\n30,Paris,yes\n", root=tmp_path) == [
        "age",
        "city",
        "income",
    ]
    import io

    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"x": [1.0], "y": ["a"]}).to_parquet(buffer)
    assert probe_columns("nested/dir/data.parquet", buffer.getvalue(), root=tmp_path) == ["x", "y"]
    assert sorted(p.name for p in (tmp_path / "_probe").iterdir()) == ["data.csv", "data.parquet"]


def test_probe_uses_the_upload_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    assert probe_columns("d.csv", b"a,b\n1,2\n") == ["a", "b"]
    assert (tmp_path / "uploads" / "_probe" / "d.csv").exists()


def test_a_file_that_cannot_be_read_says_why(tmp_path):
    with pytest.raises(DataError, match="not valid UTF-8"):
        probe_columns("bad.csv", "name\nJosé\n".encode("latin-1"), root=tmp_path)


@pytest.mark.parametrize(
    ("columns", "index"),
    [
        (["age", "Target", "label"], 1),  # the first usual label name, any case
        (["age", "city", "churned"], 2),  # else the last column
        (["y", "x"], 0),
        (["only"], 0),
    ],
)
def test_the_proposed_label_is_a_usual_name_else_the_last_column(columns, index):
    assert default_label_index(columns) == index


def test_pickles_are_told_apart_by_their_suffix():
    assert is_pickle("model.PKL") and is_pickle("m.pickle") and is_pickle("m.joblib")
    assert not is_pickle("model.skops") and not is_pickle("pkl")


def test_column_roles_leave_unset_choices_out():
    roles = column_roles(
        label="income",
        time=NO_COLUMN,
        id_column="row_id",
        task="infer",
        positive="  ",
        prediction=NO_COLUMN,
        score="p",
    )
    assert roles == {
        "label": "income",
        "time": None,
        "id": "row_id",
        "task": None,
        "positive": None,
        "prediction": None,
        "score": "p",
    }
    assert column_roles(
        label="y",
        time="t",
        id_column=NO_COLUMN,
        task="binary",
        positive=" yes ",
        prediction="pred",
        score=NO_COLUMN,
    ) == {
        "label": "y",
        "time": "t",
        "id": None,
        "task": "binary",
        "positive": "yes",
        "prediction": "pred",
        "score": None,
    }


def test_the_time_column_is_guessed_from_dates_iso_text_or_epoch_named_numbers():
    import pandas as pd

    from explore.core.upload_probe import guess_time_column

    n = 5
    base = pd.DataFrame({"amount": [1.0, 2, 3, 4, 5], "label": [0, 1, 0, 1, 0]})
    when = pd.date_range("2024-01-01", periods=n, freq="D")
    # a datetime column (Parquet, or a CSV the reader parsed)
    guess = guess_time_column(base.assign(when=when))
    assert (guess.column, guess.reason) == ("when", "its values are dates and times")
    # ISO text, with or without a time of day
    iso = base.assign(day=when.strftime("%Y-%m-%d"), stamp=when.strftime("%Y-%m-%dT%H:%M:%S"))
    assert guess_time_column(iso).column == "day"
    assert guess_time_column(iso).reason == "its values are ISO dates"
    # epoch numbers, only in a column named like a time
    epoch_s = [1_704_067_200 + 86_400 * i for i in range(n)]  # 2024-01-01 onwards, in seconds
    assert guess_time_column(base.assign(created_at=epoch_s)).reason == (
        "it is named like a time and holds epoch seconds"
    )
    assert guess_time_column(base.assign(event_ts=[t * 1000 for t in epoch_s])).reason.endswith(
        "epoch milliseconds"
    )
    assert guess_time_column(base.assign(customer=epoch_s)) is None  # a number not named like a time
    assert guess_time_column(base.assign(ts=[1, 2, 3, 4, 5])) is None  # named like one, not an epoch
    # text that only starts like a date, or is not one at all, is not a time
    assert guess_time_column(base.assign(code=["2024-01-01x", "b", "c", "d", "e"])) is None
    assert guess_time_column(base.assign(day=when.strftime("%Y-%m-%d")), exclude=["day"]) is None


def test_iso_times_with_mixed_utc_offsets_are_guessed_as_the_time_column():
    """Found uploading a listings CSV whose times carry their own offsets (2023-12-20T10:09:09+00:00 beside
    …+02:00, …-05:00 and …Z): guessing the time column raised pandas' "Mixed timezones detected" in the upload
    form. The workspace reads such a column as UTC instants; the guess now does too."""
    import pandas as pd

    from explore.core.upload_probe import guess_time_column, probe_table

    stamps = [
        "2023-12-20T10:09:09+00:00",
        "2023-12-20T19:38:37+02:00",
        "2023-12-20T21:59:46Z",
        "2023-12-21T09:51:29-05:00",
    ]
    csv = pd.DataFrame({"floor area (m²)": [1.0, 2, 3, 4], "listed at": stamps, "price": [1, 2, 3, 4]})
    table = probe_table("listings.csv", csv.to_csv(index=False).encode())
    guess = guess_time_column(table, exclude=["price"])
    assert (guess.column, guess.reason) == ("listed at", "its values are ISO dates")
