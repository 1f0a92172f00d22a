"""One package per page: a function per section of the screen, widgets only (computation lives in explore/)."""
