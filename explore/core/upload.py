"""Files uploaded on the Workspace page → a workspace folder with its own workspace.toml.

Uploads become ordinary workspaces, so everything downstream (validation, caching, the store)
works the same for them as for a workspace opened from disk.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explore import errors
from explore.core import settings
from explore.core.loading import CSV_SUFFIXES, PARQUET_SUFFIXES, PICKLE_SUFFIXES, SKOPS_SUFFIXES, _suffix
from explore.core.workspace import SCHEMA, read_workspace

DEFAULT_LIMIT_MB = settings.DEFAULT_MAX_UPLOAD_MB


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes


def upload_root() -> Path:
    """Where uploaded workspaces are kept: $EXPLORE_UPLOAD_DIR, else a folder in the system temp dir."""
    return settings.upload_dir()


def check_size(name: str, size: int, limit_mb: int) -> None:
    """Raise UploadError when ``size`` bytes exceed ``limit_mb``."""
    if size > limit_mb * 1024 * 1024:
        raise errors.UploadError(
            errors.UPLOAD_TOO_LARGE.format(name=name, size_mb=size / 1024 / 1024, limit_mb=limit_mb)
        )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def toml_text(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """Serialise ``{section: {key: value}}`` (strings, numbers, booleans, lists, inline tables) as TOML."""
    out = []
    for section, table in sections.items():
        out.append(f"[{section}]")
        out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if v is not None)
        out.append("")
    return "\n".join(out)


def _dataset_name(filename: str, taken: set[str]) -> str:
    stem = re.sub(r"\.(csv|tsv|txt|parquet|pq)(\.gz)?$", "", Path(filename).name, flags=re.I)
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "data"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def save_uploaded_workspace(
    *,
    datasets: Sequence[UploadedFile],
    columns: Mapping[str, Any],
    model: UploadedFile | None = None,
    trust_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    limit_mb: int = DEFAULT_LIMIT_MB,
    root: Path | None = None,
) -> Path:
    """Write the uploads into a content-addressed folder and return its validated workspace.toml.

    ``columns`` holds [columns] keys (label is required); empty values are left out.
    """
    if not datasets:
        raise errors.UploadError("Upload at least one data file (CSV or Parquet) to open a workspace.")
    for f in [*datasets, *([model] if model else [])]:
        check_size(f.name, len(f.data), limit_mb)
    for f in datasets:
        if _suffix(Path(f.name)) not in CSV_SUFFIXES + PARQUET_SUFFIXES:
            raise errors.UploadError(
                errors.UNKNOWN_DATA_FORMAT.format(path=f.name, suffix=_suffix(Path(f.name)) or "(none)")
            )
    if model and _suffix(Path(model.name)) not in SKOPS_SUFFIXES + PICKLE_SUFFIXES:
        raise errors.UploadError(
            errors.MODEL_UNKNOWN_FORMAT.format(path=model.name, suffix=_suffix(Path(model.name)) or "(none)")
        )
    unknown = [k for k in columns if k not in SCHEMA["columns"]]
    if unknown:
        raise errors.UploadError(
            f"Unknown column roles: {', '.join(unknown)}. Known roles: {', '.join(SCHEMA['columns'])}."
        )

    digest = hashlib.sha256()
    for f in [*([model] if model else []), *datasets]:
        digest.update(f.name.encode())
        digest.update(hashlib.sha256(f.data).digest())
    digest.update(repr(sorted((k, str(v)) for k, v in columns.items())).encode())
    digest.update(repr((trust_pickle, sorted(trusted_types))).encode())
    # Named after the first data file so the sidebar says what was uploaded; the digest keeps uploads apart.
    folder = (root or upload_root()) / f"{_dataset_name(datasets[0].name, set())}-{digest.hexdigest()[:10]}"
    folder.mkdir(parents=True, exist_ok=True)

    sections: dict[str, dict[str, Any]] = {}
    if model:
        (folder / Path(model.name).name).write_bytes(model.data)
        sections["model"] = {
            "path": Path(model.name).name,
            "trusted_types": list(trusted_types),
            "trust_pickle": trust_pickle,
        }
    sections["columns"] = {k: v for k, v in columns.items() if v not in (None, "", [], {})}
    names: dict[str, str] = {}
    for f in datasets:
        fname = Path(f.name).name
        (folder / fname).write_bytes(f.data)
        names[_dataset_name(fname, set(names))] = fname
    sections["datasets"] = names
    path = folder / "workspace.toml"
    path.write_text(toml_text(sections), encoding="utf-8")
    read_workspace(path)  # the same validation as any workspace.toml
    return path
