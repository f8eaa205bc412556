"""The signing worker: the whole flow in its child process, and the child dies with its parent
however the parent dies (issue 28: every process the server starts)."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from esign import AuthorityConfig, Signer, SigningWorker, party_field, verify
from esign.errors import SigningStateError
from esign.verify import load_trust_roots
from support.esign import drawn_png, sample_document

CST = datetime.timezone(datetime.timedelta(hours=8))


async def test_certify_sign_and_seal_in_the_child(tmp_path: Path) -> None:
    directory = tmp_path / "esign"
    worker = SigningWorker(AuthorityConfig(directory, organisation="测试调解委员会"))
    try:
        pdf = await worker.certify(sample_document())
        for i, name in enumerate(("张三", "李四")):
            pdf = await worker.sign(
                pdf,
                party_field(i),
                Signer(name, f"**************{1234 + i}", f"p{i}:passed"),
                drawn_png(),
                datetime.datetime.now(CST),
            )
        sealed = await worker.seal(pdf)
        # The package's own errors come back across the process boundary as themselves.
        with pytest.raises(SigningStateError) as info:
            await worker.sign(
                sealed, party_field(0), Signer("张三", "**************1234", "p0"), drawn_png(),
                datetime.datetime.now(CST),
            )  # fmt: skip
        assert info.value.code == "sealed"
    finally:
        await worker.close()
    roots = load_trust_roots([directory / "ca.cert.pem"])
    report = await asyncio.to_thread(verify, sealed, roots)
    assert report.verdict == "valid", report.to_json()


PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from esign import AuthorityConfig, SigningWorker
    from support.esign import sample_document

    async def main():
        worker = SigningWorker(AuthorityConfig(Path(sys.argv[1])))
        await worker.certify(sample_document())
        (child,) = worker._pool._processes  # the worker's one child
        print(child, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


TESTS = Path(__file__).resolve().parents[2]


async def test_the_child_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    tests = TESTS
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(tmp_path / "esign"),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), *sys.path])},
    )  # fmt: skip
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), 120)
    child = int(line)
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    t0 = time.monotonic()
    while _alive(child) and time.monotonic() - t0 < 5:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    assert not _alive(child), "the signing child outlived its SIGKILLed parent by 5 s"
    assert time.monotonic() - t0 <= 2.0
