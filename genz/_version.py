"""The package version (a leaf module: every layer may import it, it imports nothing of genz)."""

__version__ = "0.1.0"
