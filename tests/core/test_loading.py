"""Reading data files and model files safely, with a message for each way they can be wrong."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from explore import errors
from explore.core.loading import load_model, read_table, untrusted_types
from explore.core.workspace import open_workspace, read_workspace
from tests.helpers import frame, make_workspace, pipeline


def test_csv_and_parquet_read(tmp_path):
    df = frame(50)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet")
    for name in ("a.csv", "a.parquet"):
        out = read_table(tmp_path / name)
        assert out.shape == df.shape


def test_semicolon_csv_is_sniffed(tmp_path):
    frame(30).to_csv(tmp_path / "s.csv", sep=";", index=False)
    assert read_table(tmp_path / "s.csv").shape == (30, frame(30).shape[1])


def test_semicolon_csv_with_decimal_commas_reads_numbers(tmp_path):
    # A European spreadsheet export: ';' separated, '40,5' for 40.5. The numbers must stay numbers
    # (they used to arrive as text, and the model failed with "could not convert string to float").
    df = frame(30)
    df.to_csv(tmp_path / "eu.csv", sep=";", index=False, decimal=",")
    out = read_table(tmp_path / "eu.csv")
    assert pd.api.types.is_float_dtype(out["hours"].dtype) and pd.api.types.is_float_dtype(out["age"].dtype)
    np.testing.assert_allclose(out["hours"].to_numpy(dtype=float), df["hours"].to_numpy(), equal_nan=True)
    assert (out["city"] == df["city"]).all() and (out["when"] == df["when"]).all()


def test_gzipped_semicolon_csv_is_sniffed(tmp_path):
    # README: CSV ', ; tab or |' separated, optionally .gz — the .gz path used to assume ','.
    frame(30).to_csv(tmp_path / "s.csv.gz", sep=";", index=False, compression="gzip")
    assert read_table(tmp_path / "s.csv.gz").shape == (30, frame(30).shape[1])
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(errors.DataError, match="not a valid gzip file"):
        read_table(tmp_path / "bad.csv.gz")


def test_missing_file(tmp_path):
    with pytest.raises(errors.DataError, match="does not exist"):
        read_table(tmp_path / "none.csv")


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(errors.DataError, match=r"is empty \(0 bytes\)"):
        read_table(tmp_path / "e.csv")


def test_header_only(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(errors.DataError, match="has a header but no rows"):
        read_table(tmp_path / "h.csv")


def test_tab_and_pipe_delimiters_are_sniffed(tmp_path):
    (tmp_path / "t.csv").write_text("a\tb\n1\t2\n3\t4\n")
    (tmp_path / "p.csv").write_text("a|b\n1|2\n3|4\n")
    assert read_table(tmp_path / "t.csv").shape == (2, 2)
    assert read_table(tmp_path / "p.csv").shape == (2, 2)


def test_one_column_with_other_delimiter_in_header(tmp_path):
    (tmp_path / "x.csv").write_text(
        "a;b;c\n1;2;3;4;5\n"
    )  # inconsistent: the sniffer fails, comma split gives one column
    with pytest.raises(errors.DataError, match=r"(single column|cannot be parsed)"):
        read_table(tmp_path / "x.csv")


def test_non_utf8_csv(tmp_path):
    (tmp_path / "l.csv").write_bytes("name,city\nJosé,Besançon\n".encode("latin-1"))
    with pytest.raises(errors.DataError, match=r"not valid UTF-8 .*iconv"):
        read_table(tmp_path / "l.csv")


def test_corrupt_parquet(tmp_path):
    (tmp_path / "c.parquet").write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(errors.DataError, match="not a readable Parquet file"):
        read_table(tmp_path / "c.parquet")


def test_unknown_extension(tmp_path):
    (tmp_path / "d.xlsx").write_bytes(b"x")
    with pytest.raises(errors.DataError, match=r"extension '\.xlsx'"):
        read_table(tmp_path / "d.xlsx")


def test_duplicate_columns(tmp_path):
    pd.DataFrame([[1, 2]], columns=["a", "b"]).to_parquet(tmp_path / "d.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table([[1], [2]], names=["a", "a"]), tmp_path / "dup.parquet")
    with pytest.raises(errors.DataError, match="duplicate column names: 'a'"):
        read_table(tmp_path / "dup.parquet")


# ---- models ----------------------------------------------------------------------------------------


def _fitted():
    df = frame(200)
    return pipeline().fit(df[["age", "hours", "city"]], df["income"])


def test_skops_untrusted_types_must_be_accepted(tmp_path):
    est = _fitted()
    sio.dump(est, tmp_path / "m.skops")
    found = untrusted_types(tmp_path / "m.skops")
    if found:  # skops' defaults vary by version; when types are flagged they must be named
        with pytest.raises(errors.UntrustedTypesError) as info:
            load_model(tmp_path / "m.skops")
        assert info.value.types == found
        for t in found:
            assert t in str(info.value)
    loaded = load_model(tmp_path / "m.skops", trusted_types=found)
    assert loaded.kind == "skops" and len(loaded.fingerprint) == 16


class _Custom(LogisticRegression):
    """A type skops does not trust by default."""


def test_custom_type_is_listed_by_name(tmp_path):
    df = frame(100)
    est = _Custom().fit(df[["age"]], df["income"])
    sio.dump(est, tmp_path / "c.skops")
    with pytest.raises(errors.UntrustedTypesError) as info:
        load_model(tmp_path / "c.skops")
    assert any("_Custom" in t for t in info.value.types)
    assert "trusted_types = [" in str(info.value)


def test_corrupt_skops(tmp_path):
    (tmp_path / "bad.skops").write_bytes(b"not a zip file")
    with pytest.raises(errors.ModelError, match="could not be loaded as a skops file"):
        load_model(tmp_path / "bad.skops")


def test_unknown_model_format(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(errors.ModelError, match="skops.io.dump"):
        load_model(tmp_path / "m.onnx")


class _Evil:
    """Unpickling this creates a file: the proof that a pickle runs code."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib"])
def test_pickle_refused_without_trust_and_never_runs(tmp_path, suffix):
    target = tmp_path / "pwned"
    (tmp_path / f"m{suffix}").write_bytes(pickle.dumps(_Evil(str(target))))
    with pytest.raises(errors.PickleNotTrustedError, match="unpickling executes code"):
        load_model(tmp_path / f"m{suffix}")
    assert not target.exists()
    # Through a workspace too: trust_pickle defaults to false.
    df = frame(50)
    df.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "workspace.toml").write_text(
        f'[model]\npath = "m{suffix}"\n[columns]\nlabel = "income"\n[datasets]\nd = "d.csv"\n'
    )
    with pytest.raises(errors.PickleNotTrustedError) as info:
        open_workspace(read_workspace(tmp_path / "workspace.toml"))
    assert not target.exists()
    assert info.value.model_name == "current"  # the Workspace page asks for trust per model


def test_pickle_loads_when_trusted(tmp_path):
    path = make_workspace(tmp_path, model=_fitted(), model_name="m.joblib")
    text = path.read_text().replace("[model]\n", "[model]\ntrust_pickle = true\n")
    path.write_text(text)
    ws = open_workspace(read_workspace(path))
    assert ws.loaded_models["current"].kind == "pickle"


def test_pickle_trusted_in_ui(tmp_path):
    path = make_workspace(tmp_path, model=_fitted(), model_name="m.pkl")
    with pytest.raises(errors.PickleNotTrustedError) as info:
        open_workspace(read_workspace(path))
    # A notebook user is told the Python way, which takes model names (a file path was tried first on a tour).
    assert "explore.open(path, trusted_pickles={'current'})" in str(info.value)
    ws = open_workspace(read_workspace(path), trusted_pickles={"current"})
    assert ws.models["current"] is not None
    import explore

    assert explore.open(path, trusted_pickles={"current"}).models["current"] is not None


def test_not_an_estimator(tmp_path):
    sio.dump({"a": np.arange(3)}, tmp_path / "d.skops")
    with pytest.raises(errors.ModelError, match="not a fitted model"):
        load_model(tmp_path / "d.skops", trusted_types=untrusted_types(tmp_path / "d.skops"))


# The loaders catch the specific errors a broken file raises (not every exception): each kind still becomes
# the user's message.


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": np.arange(10_000), "b": rng.random(10_000).astype(str)}).to_parquet(buf)
    return buf.getvalue()


def _overwrite_middle(data: bytes) -> bytes:
    body = bytearray(data)
    body[200 : len(data) - 2000] = b"\xab" * (len(data) - 2200)  # footer (the schema) intact, pages not
    return bytes(body)


@pytest.mark.parametrize(
    "damage",
    [lambda d: d[: len(d) // 2], _overwrite_middle],
    ids=["truncated (ArrowInvalid)", "corrupt pages (OSError)"],
)
def test_broken_parquet_is_a_data_error(tmp_path, damage):
    (tmp_path / "b.parquet").write_bytes(damage(_parquet_bytes()))
    with pytest.raises(errors.DataError, match="not a readable Parquet file"):
        read_table(tmp_path / "b.parquet")


@pytest.mark.parametrize(
    "members",
    [
        {"other.txt": "1"},  # KeyError: no schema.json
        {"schema.json": "{not json"},  # ValueError
        {"schema.json": "[1, 2]"},  # AttributeError: a schema of another shape
        {"schema.json": "{}"},  # TypeError: no protocol
    ],
    ids=["no schema", "not json", "a list", "no protocol"],
)
def test_skops_file_with_a_broken_schema_is_a_model_error(tmp_path, members):
    with zipfile.ZipFile(tmp_path / "m.skops", "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    with pytest.raises(errors.ModelError, match="could not be loaded as a skops file"):
        load_model(tmp_path / "m.skops")
