"""Session fixtures for the chart tests: each scenario in charts/cityos/ci/ is rendered once, offline."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "cityos"
SCENARIOS = sorted(p.stem for p in (CHART / "ci").glob("*.yaml"))
RELEASE = "demo"
NAMESPACE = "cityos"
NEGATIVE_CONTROL = "negative-control"
_PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: privileged
  namespace: cityos
spec:
  containers:
    - name: app
      image: busybox:1.36
      securityContext:
        privileged: true
"""
# Oldest supported (Chart.yaml kubeVersion) and two recent releases, all offline in kubernetes-validate.
KUBERNETES_VERSIONS = ["1.29.0", "1.31.0", "1.33.0"]


@dataclass
class Rendered:
    """The objects one scenario renders, with lookups the tests share."""

    scenario: str
    values: dict[str, Any]
    files: dict[str, str]
    objects: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every object of a kind."""
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """The one object of a kind and name (fails the test when absent)."""
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.scenario}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object of a kind and name, or None."""
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def component(self, component: str) -> list[dict[str, Any]]:
        """Every object labelled with an app.kubernetes.io/component."""
        return [
            o
            for o in self.objects
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]


def scenario_values(name: str) -> dict[str, Any]:
    """The values file of a scenario."""
    loaded = yaml.safe_load((CHART / "ci" / f"{name}.yaml").read_text())
    return loaded or {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests taking `scenario` once per scenario and `kube_version` once per Kubernetes version."""
    if "scenario" in metafunc.fixturenames:
        metafunc.parametrize("scenario", SCENARIOS)
    if "kube_version" in metafunc.fixturenames:
        metafunc.parametrize("kube_version", KUBERNETES_VERSIONS)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def chart_dir() -> Path:
    """The chart folder."""
    return CHART


@pytest.fixture(scope="session")
def values_of() -> Any:
    """Load a scenario's values file by name."""
    return scenario_values


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    """The chart, loaded once by the real Helm engine."""
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm.Chart) -> Any:
    """Render the chart with given values (for one-off cases); returns a Rendered."""

    def _render(values: dict[str, Any], scenario: str = "adhoc") -> Rendered:
        files = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        result = Rendered(scenario, values, files)
        for path, text in sorted(files.items()):
            if path.endswith((".yaml", ".yml")):
                result.objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return result

    return _render


@pytest.fixture(scope="session")
def rendered(render: Any) -> dict[str, Rendered]:
    """Every scenario under charts/cityos/ci, rendered once per session."""
    return {name: render(scenario_values(name), name) for name in SCENARIOS}


@pytest.fixture(scope="session")
def manifests_dir(rendered: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered manifests on disk, one folder per scenario (for checkov)."""
    root = tmp_path_factory.mktemp("manifests")
    for name, result in rendered.items():
        folder = root / name
        folder.mkdir()
        for path, text in result.files.items():
            if path.endswith(".yaml") and text.strip():
                (folder / Path(path).name).write_text(text)
    # A deliberately bad pod: proves checkov reads these folders and fails what it should.
    control = root / NEGATIVE_CONTROL
    control.mkdir()
    (control / "privileged.yaml").write_text(_PRIVILEGED_POD)
    return root


@pytest.fixture(scope="session")
def negative_control() -> str:
    """Folder name of the deliberately bad manifest among the scanned ones."""
    return NEGATIVE_CONTROL


@pytest.fixture(scope="session")
def checkov_report(manifests_dir: Path) -> dict[str, Any]:
    """Run checkov once over every scenario's manifests (its own venv, see charts/tools/checkov.sh)."""
    script = REPO / "charts" / "tools" / "checkov.sh"
    config = REPO / "charts" / "tools" / "checkov.yaml"
    proc = subprocess.run(
        [str(script), "--config-file", str(config), "-d", str(manifests_dir), "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), f"checkov printed no report (exit {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    kubernetes = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert kubernetes, f"checkov ran no kubernetes checks: {proc.stdout[:500]}"
    return kubernetes[0]
