"""The package version, in one place: pyproject.toml, run folders and reports read it from here."""

__version__ = "0.1.0"
