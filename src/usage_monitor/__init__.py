"""Leegality usage monitor: warns before a Leegality license runs out."""
