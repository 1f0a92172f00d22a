"""What results look like outside the app: Markdown tables and reports, and results that draw themselves in a
notebook (``Result``: repr, HTML summary, ``.chart()``, ``.to_frame()``)."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {"markdown": ["markdown_table", "markdown_report", "cell"], "display": ["Result"]}
)
