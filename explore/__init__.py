"""ml-explore: the computing core. Never imports streamlit."""

__version__ = "0.1.0"
