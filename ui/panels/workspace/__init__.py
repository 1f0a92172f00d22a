"""The Workspace page's sections: opening (and trusting) the workspace, what it holds, its overall metrics,
and the ways to open another one (one function per section, widgets only)."""
