"""schemathesis against a real server, from its own OpenAPI document, with every kind of
credential (testbed/http_fuzz.py): no 5xx, every answer as documented, no hang. A short run
(a few examples per operation); `python -m bench.fuzz.http` is the long one."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.http_fuzz import fuzz_server, schemathesis_binary

pytestmark = pytest.mark.skipif(
    schemathesis_binary() is None, reason="schemathesis (PyPI) is not installed"
)


async def test_fuzzing_every_operation_with_every_credential_finds_nothing(
    tmp_path: Path,
) -> None:
    results, errors = await fuzz_server(
        tmp_path, max_examples=1, seed=20261207, phases="fuzzing,stateful"
    )
    failed = [r for r in results if r.exit_code != 0]
    assert not failed, "\n\n".join(f"== {r.role} ==\n{r.output[-6000:]}" for r in failed)
    assert not errors, errors
    # every operation was tried with every credential (110 operations at the time of writing)
    assert all(r.generated >= 100 for r in results), [r.to_json() for r in results]
