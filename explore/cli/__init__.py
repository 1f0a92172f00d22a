"""The command line: ``explore`` (open the app), ``explore run``, ``explore sample``, ``explore check``."""

from explore.cli.commands import main

__all__ = ["main"]
