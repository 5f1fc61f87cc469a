"""FutureMobility lakehouse: shared core (settings, errors, CLI, native service manager)."""

__version__ = "0.1.0"
