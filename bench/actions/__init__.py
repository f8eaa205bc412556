"""How long a judge's or clerk's action takes to be answered while the server is busy (issue 24).

Run ``python -m bench.actions.run --help`` inside a network namespace (see bench/README.md).
"""
