"""``hearing-server verify-recording DIR``: check a recording and say what is wrong.

Exit codes: 0 intact and signed; 1 problems (something altered, missing, added or
unreadable); 2 usage (bad arguments, DIR is not a directory, unreadable key file);
3 intact but unsigned (the recording did not stop cleanly: a crash).

Also runnable as ``python -m recording.cli DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .signing import load_public_key
from .verify import Severity, Status, VerifyReport, inspect_recording

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_UNSIGNED = 3


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Verify a hearing recording: every file's SHA-256, the manifest's hash "
        "chain and its Ed25519 signature.",
        epilog="Exit codes: 0 intact and signed, 1 problems found, 2 usage error, "
        "3 intact but unsigned (the recording did not stop cleanly).",
    )
    p.add_argument("directory", help="the recording directory (holds manifest.jsonl)")
    p.add_argument(
        "--public-key",
        metavar="FILE",
        help="the server's published public key (PEM or base64); without it the key in "
        "manifest.sig is used and its fingerprint printed for you to compare",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(
    argv: Sequence[str] | None = None, *, prog: str = "hearing-server verify-recording"
) -> int:
    """Run the command; ``argv`` is what follows the subcommand. Returns the exit code."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help exits 0, errors 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"{prog}: {directory} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    key = None
    if args.public_key:
        try:
            key = load_public_key(Path(args.public_key).read_bytes())
        except (OSError, ValueError) as exc:
            print(f"{prog}: cannot use public key {args.public_key}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    report = inspect_recording(directory, public_key=key)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if report.status is Status.OK:
        return EXIT_OK
    if report.status is Status.UNSIGNED:
        return EXIT_UNSIGNED
    return EXIT_PROBLEMS


def _print_report(rep: VerifyReport) -> None:
    print(f"Recording {rep.recording_id or '?'} of hearing {rep.hearing_id or '?'}")
    print(f"  directory: {rep.directory}")
    print(
        f"  {rep.entries} manifest entries, {rep.tracks} tracks, {rep.segments} segments "
        f"({rep.segments_intact} intact, {rep.incomplete_segments} incomplete after a "
        f"write failure), {rep.losses} recorded losses"
    )
    if rep.key_fingerprint:
        kind = "final" if rep.final else "checkpoint"
        print(f"  {kind} signature over {rep.signed_entries} entries, key {rep.key_fingerprint}")
    errors = [p for p in rep.problems if p.severity is Severity.ERROR]
    warnings = [p for p in rep.problems if p.severity is Severity.WARNING]
    if rep.status is Status.OK:
        print("OK: every file matches the manifest, the chain is intact, the signature is valid.")
    elif rep.status is Status.UNSIGNED:
        print("UNSIGNED: intact, but the recording did not stop cleanly.")
    else:
        print(f"FAILED: {len(errors)} problem(s): the recording was altered or damaged.")
    for p in errors + warnings:
        print(f"  {p}")


if __name__ == "__main__":
    sys.exit(main())
