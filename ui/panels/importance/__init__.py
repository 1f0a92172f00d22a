"""The sections of the Importance page (views/importance.py): one function per section, widgets only."""
