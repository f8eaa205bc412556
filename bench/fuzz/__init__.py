"""Fuzzing the whole server: HTTP from its OpenAPI document (``bench.fuzz.http``)."""
