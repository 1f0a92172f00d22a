"""The Labels page's sections (views/labels.py switches between them) and its cached computations."""
