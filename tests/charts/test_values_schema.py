"""values.schema.json is strict, the scenarios obey it, and the README is generated from values.yaml."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"ingres": {"enabled": True}}, "ingres"),
        ({"services": {"broker": {"replicaz": 3}}}, "replicaz"),
        ({"services": {"brokr": {"enabled": True}}}, "brokr"),
        ({"services": {"gateway": {"autoscaling": {"maxReplica": 3}}}}, "maxReplica"),
        ({"redis": {"mode": "cluster"}}, "minItems"),
        ({"redis": {"mode": "replicated"}}, "/redis/mode"),
        ({"config": {"logFormat": "xml"}}, "/config/logFormat"),
        ({"services": {"broker": {"callers": ["gatewya"]}}}, "/services/broker/callers/0"),
        ({"initJob": {"tenant": "Hokkaido Pref"}}, "/initJob/tenant"),
        ({"config": {"gateway": {"authMode": "none"}}}, "/config/gateway/authMode"),
        ({"config": {"gateway": {"rateLimit": "fast"}}}, "/config/gateway/rateLimit"),
        (
            {"config": {"identity": {"keyEncryptionSecret": "too-short"}}},
            "/config/identity/keyEncryptionSecret",
        ),
        ({"config": {"identity": {"issuer": "api.example.jp"}}}, "/config/identity/issuer"),
        ({"config": {"identity": {"accessTokenTtl": 5}}}, "/config/identity/accessTokenTtl"),
        ({"config": {"broker": {"history": {"retention": "7 days"}}}}, "/config/broker/history/retention"),
        ({"initJob": {"adminUsername": "Admin User"}}, "/initJob/adminUsername"),
        ({"services": {"identity": {"secretEnv": {"KEK": {"secret": "x", "key": "k"}}}}}, "/secretEnv/KEK"),
        ({"services": {"broker": {"extraEnv": {"lower-case": "x"}}}}, "lower-case"),
        ({"services": {"broker": {"workers": {"replica": 3}}}}, "replica"),
        ({"services": {"broker": {"workers": {"autoscaling": {"maxReplica": 3}}}}}, "maxReplica"),
        ({"services": {"gateway": {"workers": {"enabled": True}}}}, "workers"),
        ({"config": {"grpc": {"maxConnectionAge": -1}}}, "/config/grpc/maxConnectionAge"),
        ({"config": {"grpc": {"maxConnectionAgeGrace": 0}}}, "/config/grpc/maxConnectionAgeGrace"),
        ({"clusterDomain": "Cluster Local"}, "/clusterDomain"),
        (
            {"services": {"broker": {"resources": {"requests": {"cpu": "lots"}}}}},
            "/services/broker/resources/requests/cpu",
        ),
    ],
)
def test_schema_rejects_mistakes(chart: helm.Chart, values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmError, match=complaint):
        chart.validate_schema(values)


def test_scenarios_and_defaults_satisfy_the_schema(chart: helm.Chart, values_of: Any, scenario: str) -> None:
    chart.validate_schema(values_of(scenario))


def test_every_object_in_the_schema_is_closed(chart_dir: Path) -> None:
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    open_maps = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and node.get("additionalProperties") is not False
            ):
                open_maps.append(where)
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}/{i}")

    walk(schema, "")
    assert schema["additionalProperties"] is False
    assert not open_maps


def test_readme_is_generated_from_values(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(repo / "charts" / "tools" / "gen_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_value_is_documented(repo: Path, chart_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "cityos_gen_readme", repo / "charts" / "tools" / "gen_readme.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    text = (chart_dir / "values.yaml").read_text()
    documented = {doc.path for doc in module.documented_keys(text)}

    def leaves(node: Any, prefix: str) -> list[str]:
        if isinstance(node, dict) and node:
            return [leaf for key, child in node.items() for leaf in leaves(child, f"{prefix}{key}.")]
        return [prefix[:-1]]

    missing = []
    for leaf in leaves(yaml.safe_load(text), ""):
        parts = leaf.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1)):
            missing.append(leaf)
    assert not missing, f"undocumented values: {missing}"
    readme = (chart_dir / "README.md").read_text()
    assert "| `services.broker.autoscaling.maxReplicas` | int | `20` |" in readme
