"""One CSV download button, as every section of the Staleness page offers them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from explore.report.csv import csv_bytes


def csv_download(where: Any, label: str, table: pd.DataFrame, file_name: str, *, key: str) -> None:
    """A button in ``where`` (``st`` or a column) that downloads ``table`` as CSV without rerunning the page."""
    where.download_button(label, csv_bytes(table), file_name, "text/csv", on_click="ignore", key=key)
