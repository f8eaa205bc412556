"""Overload benchmark: an N-party hearing with the server's defaults (issue 29)."""
