"""territory: open-source Enterprise Territory Management."""

__version__ = "0.1.0"

__all__ = ["__version__"]
