"""Leegality usage monitor: warns before a Leegality license runs out."""

__version__ = "0.2.0"
