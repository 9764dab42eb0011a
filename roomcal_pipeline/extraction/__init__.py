"""Extraction: room calendars from Graph, through the allowlist, into raw tables."""
