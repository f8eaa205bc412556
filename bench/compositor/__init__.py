"""Benchmark of the courtroom compositor (issue 5, item 7): see run.py."""
