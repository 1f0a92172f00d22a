"""The sections of the Rubric page (views/rubric.py): one function per section, widgets only."""
