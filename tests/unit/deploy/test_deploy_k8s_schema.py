"""deploy/k8s/ against Kubernetes' own OpenAPI schemas (kubernetes-validate, which bundles them:
nothing is fetched), strict: a misspelt field such as `readinesProbe` fails, which a cluster
would otherwise drop with a warning at best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from support.deploy_files import k8s_objects

# The oldest Kubernetes release still commonly run by courts' providers, and the newest the
# schemas know.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("path", "obj"),
    k8s_objects(),
    ids=[f"{p.name}:{o['kind']}:{o['metadata']['name']}" for p, o in k8s_objects()],
)
def test_manifest_matches_the_schema(version: str, path: Path, obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{path.name} {obj['kind']}: {exc.message} at {list(exc.path)}")


def test_a_misspelt_field_is_caught() -> None:
    (statefulset,) = [o for _, o in k8s_objects() if o["kind"] == "StatefulSet"]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    bad = {**container, "readinesProbe": container["readinessProbe"]}
    del bad["readinessProbe"]
    broken = {
        **statefulset,
        "spec": {
            **statefulset["spec"],
            "template": {
                **statefulset["spec"]["template"],
                "spec": {**statefulset["spec"]["template"]["spec"], "containers": [bad]},
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)
