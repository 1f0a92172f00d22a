"""One package per page: the page's sections, one function each, widgets only."""
