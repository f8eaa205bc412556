"""The SFU benchmark: one publisher, K subscribers, the server in its own process.

Run ``python -m bench.sfu.run --help`` (inside a network namespace; see bench/README.md).
"""
