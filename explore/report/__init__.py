"""Writers that turn result objects into documents others open: Markdown tables and reports, CSV
downloads safe to open in a spreadsheet."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "markdown": ["markdown_table", "cell", "md_escape", "md_code", "autolink", "fenced", "Markup"],
        "csv": ["csv_bytes", "spreadsheet_safe", "neutralised"],
    },
)
