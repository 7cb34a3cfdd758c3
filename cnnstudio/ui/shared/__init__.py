"""Widgets and choices shared by several pages (pictures, the model chooser)."""
