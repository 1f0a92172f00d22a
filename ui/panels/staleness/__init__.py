"""The Staleness page's sections: window controls, performance over time, the staleness experiment, drift
per feature and data invariants per window (one function per section, widgets only; the computations they
ask for are in ``cached``)."""
