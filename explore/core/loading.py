"""Files → DataFrames and models, with clear messages for every way a file can be wrong.

Models load through skops by default: the types a .skops file contains that skops does not trust by
default are listed by name and must be accepted explicitly. Pickle/joblib files run code when loaded,
so they are refused unless the user trusts the file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explore import errors
from explore.core import settings

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
SKOPS_SUFFIXES = (".skops",)
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in CSV_SUFFIXES + PARQUET_SUFFIXES + SKOPS_SUFFIXES + PICKLE_SUFFIXES:
        if name.endswith(s):
            return s
    return path.suffix.lower()


def _check_file(path: Path, what: str, where: str) -> None:
    if not path.exists() and path.is_symlink():  # exists() follows the link: a loop or a dangling link
        try:
            path.resolve(strict=True)
        except RuntimeError:
            raise errors.DataError(errors.SYMLINK_LOOP.format(what=what, path=path, where=where)) from None
        except OSError:
            raise errors.DataError(
                errors.SYMLINK_BROKEN.format(what=what, path=path, target=path.readlink(), where=where)
            ) from None
    if not path.exists():
        raise errors.DataError(errors.FILE_NOT_FOUND.format(what=what, path=path, where=where))
    if path.is_dir():
        raise errors.DataError(
            errors.FILE_UNREADABLE.format(what=what, path=path, reason="it is a folder", where=where)
        )
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise errors.DataError(
            errors.FILE_UNREADABLE.format(what=what, path=path, reason=exc.strerror or exc, where=where)
        ) from None
    if size == 0:
        raise errors.DataError(errors.FILE_EMPTY.format(what=what, path=path, where=where))


def file_fingerprint(path: Path) -> str:
    """Return a short sha256 of the file's bytes (hex, 16 chars): identifies a model or data version."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


# ---- tables -------------------------------------------------------------------------------------


def _sniff_delimiter(sample: str) -> str | None:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return None


def longest_line_within(path: Path, limit: int, *, chunk: int = 1 << 20) -> tuple[bool, int]:
    """Scan ``path`` in ``chunk``-byte pieces (bounded memory, whatever the file holds): ``(True, 0)`` when
    every line is at most ``limit`` bytes, else ``(False, number of the first longer line)``."""
    run, line = 0, 1
    with path.open("rb") as fh:
        while piece := fh.read(chunk):
            breaks = piece.count(b"\n")
            if not breaks:
                run += len(piece)
            else:
                first, last = piece.index(b"\n"), piece.rindex(b"\n")
                if run + first > limit:
                    return False, line
                inner = piece[first + 1 : last].split(b"\n") if breaks > 1 else []
                for offset, part in enumerate(inner):
                    if len(part) > limit:
                        return False, line + 1 + offset
                line += breaks
                run = len(piece) - last - 1
            if run > limit:
                return False, line
    return True, 0


def _read_csv(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if not name.endswith(".gz"):  # a gzipped file is bounded by the upload limit and decompressed below
        limit_mb = settings.max_line_mb()
        ok, line = longest_line_within(path, limit_mb << 20)
        if not ok:
            raise errors.DataError(errors.CSV_LINE_TOO_LONG.format(path=path, limit_mb=limit_mb, line=line))
    raw = path.read_bytes()
    if name.endswith(".gz"):
        # Decompressed here so that a gzipped file is sniffed like any other (';' or tab separated).
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise errors.DataError(
                errors.CSV_PARSE_FAILED.format(path=path, reason=f"not a valid gzip file ({exc})")
            ) from None
    try:
        head = raw[: 1 << 16].decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sample's end is not an encoding problem.
        if exc.start < (1 << 16) - 4:
            raise errors.DataError(
                errors.CSV_NOT_UTF8.format(path=path, position=exc.start, byte=raw[exc.start : exc.start + 1])
            ) from None
        head = raw[: exc.start].decode("utf-8")
    sep = "\t" if name.endswith((".tsv", ".tsv.gz")) else (_sniff_delimiter(head) or ",")

    def parse(**options: Any) -> pd.DataFrame:
        try:
            return pd.read_csv(io.BytesIO(raw), sep=sep, encoding="utf-8", low_memory=False, **options)
        except UnicodeDecodeError as exc:
            raise errors.DataError(
                errors.CSV_NOT_UTF8.format(
                    path=path, position=exc.start, byte=exc.object[exc.start : exc.start + 1]
                )
            ) from None
        except pd.errors.EmptyDataError:
            raise errors.DataError(
                errors.FILE_EMPTY.format(what="data", path=path, where="workspace.toml [datasets]")
            ) from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise errors.DataError(
                errors.CSV_PARSE_FAILED.format(path=path, reason=str(exc).strip())
            ) from None

    df = parse()
    if df.shape[1] == 1 and len(df) > 0:
        header = str(df.columns[0])
        if any(d in header for d in ";\t|"):
            raise errors.DataError(errors.CSV_ONE_COLUMN.format(path=path, header=header, delimiter=sep))
    if sep != "," and _has_decimal_commas(df):
        # European CSV (';' separated, '12,64'): read the numbers as numbers, as a spreadsheet would.
        df = parse(decimal=",")
    return df


_DECIMAL_COMMA = r"[+-]?\d+,\d+|[+-]?\d+"


def _has_decimal_commas(df: pd.DataFrame) -> bool:
    """True when some text column holds only numbers written with a decimal comma (and whole numbers)."""
    for c in df.columns:
        s = df[c]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        present = s.dropna().astype(str).str.strip()
        if (
            len(present)
            and present.str.contains(",", regex=False).any()
            and present.str.fullmatch(_DECIMAL_COMMA).all()
        ):
            return True
    return False


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # What pyarrow raises for a file that is not Parquet, truncated or corrupt (ArrowInvalid is a ValueError).
    broken = (pa.ArrowException, OSError, ValueError, TypeError, KeyError, IndexError)
    try:
        names = pq.read_schema(path).names
    except broken as exc:  # not Parquet at all / truncated footer
        raise errors.DataError(errors.PARQUET_CORRUPT.format(path=path, reason=_reason(exc))) from None
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise errors.DataError(
            errors.DUPLICATE_COLUMNS.format(path=path, columns=", ".join(repr(c) for c in dup))
        )
    try:
        return pd.read_parquet(path)
    except broken as exc:  # pyarrow raises several unrelated types for a broken file
        raise errors.DataError(errors.PARQUET_CORRUPT.format(path=path, reason=_reason(exc))) from None


def read_table(path: Path | str, *, where: str = "workspace.toml [datasets]") -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame; raise ``DataError`` with the fix on any problem."""
    path = Path(path)
    _check_file(path, "data", where)
    suffix = _suffix(path)
    if suffix in CSV_SUFFIXES:
        df = _read_csv(path)
    elif suffix in PARQUET_SUFFIXES:
        df = _read_parquet(path)
    else:
        raise errors.DataError(errors.UNKNOWN_DATA_FORMAT.format(path=path, suffix=suffix or "(none)"))
    if len(df) == 0:
        raise errors.DataError(errors.TABLE_NO_ROWS.format(path=path))
    cols = [str(c) for c in df.columns]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise errors.DataError(
            errors.DUPLICATE_COLUMNS.format(path=path, columns=", ".join(repr(c) for c in dup))
        )
    df.columns = cols
    return df


# ---- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A model and where it came from."""

    estimator: Any
    path: Path
    fingerprint: str
    kind: str  # "skops" | "pickle"
    library_versions: dict[str, str]
    # The types of a .skops file that skops does not trust by default (accepted by the user to load it).
    untrusted_types: tuple[str, ...] = ()


def untrusted_types(path: Path | str, data: bytes | None = None) -> list[str]:
    """Return the type names in a .skops file that skops does not trust by default (sorted): the file at ``path``,
    or ``data`` (an uploaded file's bytes, ``path`` its name)."""
    import skops.io as sio

    if data is None:
        path = Path(path)
        _check_file(path, "model", "workspace.toml [model] path")
    try:
        found = sio.get_untrusted_types(file=path) if data is None else sio.get_untrusted_types(data=data)
        return sorted(found)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        # not a zip, no schema.json, not JSON (a ValueError), or a schema of another shape: "not a skops file"
        raise errors.ModelError(
            errors.MODEL_CORRUPT.format(path=path, kind="skops", reason=_reason(exc))
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _skops_versions(path: Path) -> dict[str, str]:
    """Library versions recorded in a skops file's schema (best effort)."""
    import json

    try:
        with zipfile.ZipFile(path) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):  # best effort: no versions then
        return {}
    out = {}
    if "protocol" in schema:
        out["skops protocol"] = str(schema["protocol"])
    if "_skops_version" in schema:
        out["skops"] = str(schema["_skops_version"])
    return out


def load_model(
    path: Path | str,
    *,
    trusted_types: list[str] | tuple[str, ...] = (),
    trust_pickle: bool = False,
) -> LoadedModel:
    """Load a fitted estimator safely.

    ``.skops``: every untrusted type in the file must be in ``trusted_types`` or
    ``UntrustedTypesError`` (with ``.types``) is raised. ``.pkl``/``.joblib``: refused with
    ``PickleNotTrustedError`` unless ``trust_pickle`` — the check happens before the file is opened.
    """
    path = Path(path)
    suffix = _suffix(path)
    found: list[str] = []
    if suffix in PICKLE_SUFFIXES:
        refuse_untrusted_pickle(path, trust_pickle=trust_pickle)
        _check_file(path, "model", "workspace.toml [model] path")
        try:
            import joblib

            # joblib reads plain pickles as well as its own format; the user explicitly trusts this file.
            est = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - unpickling runs the file's own code, which may raise anything
            raise errors.ModelError(
                errors.MODEL_CORRUPT.format(path=path, kind=suffix, reason=_reason(exc))
            ) from None
        kind, versions = "pickle", {}
    elif suffix in SKOPS_SUFFIXES:
        import skops.io as sio

        found = untrusted_types(path)
        refuse_untrusted_types(path, found, trusted_types)
        try:
            est = sio.load(path, trusted=found)
        except Exception as exc:  # noqa: BLE001 - loading builds the file's objects, whose own code may raise anything
            raise errors.ModelError(
                errors.MODEL_CORRUPT.format(path=path, kind="skops", reason=_reason(exc))
            ) from None
        kind, versions = "skops", _skops_versions(path)
    else:
        raise errors.ModelError(errors.MODEL_UNKNOWN_FORMAT.format(path=path, suffix=suffix or "(none)"))
    if not hasattr(est, "predict"):
        raise errors.ModelError(errors.MODEL_NOT_ESTIMATOR.format(path=path, received=type(est).__name__))
    sk_version = getattr(est, "__sklearn_version__", None) or getattr(est, "_sklearn_version", None)
    if sk_version:
        versions["scikit-learn"] = str(sk_version)
    return LoadedModel(est, path, file_fingerprint(path), kind, versions, tuple(found))


def is_pickle_file(path: Path | str) -> bool:
    """True for a .pkl / .pickle / .joblib file: loading it runs code, so it needs the user's trust."""
    return _suffix(Path(path)) in PICKLE_SUFFIXES


def refuse_untrusted_pickle(path: Path, *, trust_pickle: bool) -> None:
    """Raise ``PickleNotTrustedError`` for a pickle / joblib file the user does not trust (before it is opened)."""
    if is_pickle_file(path) and not trust_pickle:
        raise errors.PickleNotTrustedError(
            errors.MODEL_PICKLE_NOT_TRUSTED.format(path=path, kind=_suffix(path))
        )


def refuse_untrusted_types(
    path: Path, found: list[str] | tuple[str, ...], trusted_types: list[str] | tuple[str, ...]
) -> None:
    """Raise ``UntrustedTypesError`` (with ``.types``) when some of ``found`` — the types of a .skops file that
    skops does not trust by default — are not in ``trusted_types``; nothing of the file has run yet."""
    missing = [t for t in found if t not in set(trusted_types)]
    if missing:
        raise errors.UntrustedTypesError(
            errors.MODEL_UNTRUSTED_TYPES.format(
                path=path,
                n=len(missing),
                types=", ".join(missing),
                quoted=", ".join(f'"{t}"' for t in missing),
            ),
            missing,
        )
