"""The camera check under load: time to a decision, CPU per check, and the forwarding of the
others in the hearing before and while three checks run at once (issue 12).

Run ``python -m bench.faces.concurrent.run --help`` inside a network namespace (see
bench/README.md).
"""
