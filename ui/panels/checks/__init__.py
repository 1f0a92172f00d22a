"""The Checks page's sections (views/checks.py switches between them), one module each, widgets only.

comparison (+ thresholds), baseline, reproducibility, model_spec, expectations (+ banned), skew (+ shadow),
compatibility (+ key examples), stability, cost; ``common`` holds what they share, ``kept`` the results kept
between runs, ``cached`` the cached look-ups.
"""
