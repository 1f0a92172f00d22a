"""What results look like outside the app: Markdown tables and reports, CSV downloads safe to open in a
spreadsheet, and results that draw themselves in a notebook (``Result``: repr, HTML summary, ``.chart()``,
``.to_frame()``)."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "markdown": [
            "markdown_table",
            "markdown_report",
            "cell",
            "md_escape",
            "md_code",
            "autolink",
            "fenced",
            "Markup",
        ],
        "csv": ["csv_bytes", "spreadsheet_safe", "neutralised"],
        "display": ["Result", "TableResult"],
    },
)
