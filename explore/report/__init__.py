"""What results look like outside the app: Markdown tables and reports, CSV downloads safe to open in a
spreadsheet, results that draw themselves in a notebook (``Result``: repr, HTML summary, ``.chart()``,
``.to_frame()``), standalone HTML with offline charts, and the meeting minutes (``explore report``)."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "markdown": [
            "markdown_table",
            "markdown_report",
            "cell",
            "cell_text",
            "md_escape",
            "md_code",
            "autolink",
            "fenced",
            "Markup",
        ],
        "csv": ["csv_bytes", "spreadsheet_safe", "neutralised"],
        "display": ["Result", "TableResult"],
        "html": ["esc", "html_table", "chart_block", "document"],
        "minutes": ["build_minutes", "minutes_html", "write_minutes"],
    },
)
