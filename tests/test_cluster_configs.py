"""Every file in cluster/ is loaded and checked: Ray's own validation for the `ray up` YAMLs, the RayService
against serve_config.yaml, the env files through a real shell and AppArgs, and the placement they ask for
against the resources the node groups advertise."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from genpulse.core.config import AppArgs

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
RAY_UP = {"aws-gpu.yaml": "aws.env", "onprem.yaml": "onprem.env"}
SECRET_NAMES = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)", re.I)


def ray_pin() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (ray_dep,) = [d for d in deps if d.startswith("ray[")]
    return ray_dep.split("==")[1]


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def source_env(path: Path) -> dict[str, str]:
    """The variables a node gets from ``set -a; . file``, read through bash itself (quoting included)."""
    out = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; env -0'], capture_output=True, check=True, env={}
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in env.items() if k.startswith(("GENPULSE_", "RAY_", "EFS_"))}


def load_args(env: dict[str, str], args: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> AppArgs:
    for key, value in env.items():
        if key.startswith("GENPULSE_"):
            monkeypatch.setenv(key, value)
    return AppArgs.load(args)


def placed_resources(args: AppArgs) -> set[str]:
    p = args.placement
    parts = (p.ingress, p.diffusion, p.workers, p.limiters, p.store)
    return {name for p in parts for name in p.resources}


def serve_app() -> dict[str, Any]:
    (app,) = yaml.safe_load((ROOT / "serve_config.yaml").read_text())["applications"]
    return app


def test_every_cluster_file_is_checked() -> None:
    checked = {*RAY_UP, "kuberay-rayservice.yaml", "README.md"}
    checked |= {f"env/{e}" for e in RAY_UP.values()} | {"grafana/genpulse.json"}
    present = {str(p.relative_to(CLUSTER)) for p in CLUSTER.rglob("*") if p.is_file()}
    assert present <= checked, f"files in cluster/ without a test: {sorted(present - checked)}"


@pytest.mark.parametrize("name", sorted(RAY_UP))
def test_ray_up_config(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((CLUSTER / name).read_text())
    validate_config(prepare_config(raw))  # Ray's own schema and consistency checks

    setup = " ".join(raw["setup_commands"])
    assert f'"ray[serve,default]=={ray_pin()}"' in setup
    assert "~/genpulse" in raw["file_mounts"] and raw["file_mounts"]["~/genpulse"] == "."
    head = " ".join(raw["head_start_ray_commands"])
    for needle in ('RAY_REDIS_ADDRESS="$GCS_REDIS_ADDRESS"', "--dashboard-host=0.0.0.0", "--metrics-export-port="):
        assert needle in head
    starts = head + " ".join(raw["worker_start_ray_commands"])
    assert starts.count(f"cluster/env/{RAY_UP[name]}") == 2 and starts.count(". ~/.genpulse-secrets.env") == 2

    advertised = {k for js in re.findall(r"'(\{[^']*\})'", starts) for k in json.loads(js)}
    for node_type in raw.get("available_node_types", {}).values():
        advertised |= set(node_type.get("resources", {}))
    env = source_env(CLUSTER / "env" / RAY_UP[name])
    monkeypatch.setenv("GENPULSE_AUTH__ADMIN_KEY", "an-admin-key-from-the-secret")  # ~/.genpulse-secrets.env's
    args = load_args(env, serve_app()["args"], monkeypatch)
    assert args.auth.mode == "keys", "these clusters' API is reachable beyond loopback"
    assert placed_resources(args) == {"gpu_node", "provider_node", "head_node"}
    assert placed_resources(args) <= advertised, "placement asks for resources no node advertises"
    assert env["RAY_AUTH_MODE"] == "token"
    assert not [k for k in env if SECRET_NAMES.search(k)], "secrets belong in ~/.genpulse-secrets.env"


def test_aws_node_groups() -> None:
    raw = yaml.safe_load((CLUSTER / "aws-gpu.yaml").read_text())
    types = raw["available_node_types"]
    assert raw["head_node_type"] == "head" and set(types) == {"head", "gpu_worker", "cpu_worker"}
    assert re.match(r"^(g|p)\d", types["gpu_worker"]["node_config"]["InstanceType"])
    assert not re.match(r"^(g|p)\d", types["cpu_worker"]["node_config"]["InstanceType"])
    assert not re.match(r"^(g|p)\d", types["head"]["node_config"]["InstanceType"])
    assert types["gpu_worker"]["resources"] == {"gpu_node": 1}
    assert types["cpu_worker"]["resources"] == {"provider_node": 1}
    assert "secretsmanager get-secret-value" in " ".join(raw["setup_commands"])


def test_onprem_lists_head_and_workers() -> None:
    raw = yaml.safe_load((CLUSTER / "onprem.yaml").read_text())
    assert raw["provider"]["type"] == "local" and raw["provider"]["head_ip"]
    assert len(raw["provider"]["worker_ips"]) == raw["max_workers"] >= 1


def kube_docs() -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all((CLUSTER / "kuberay-rayservice.yaml").read_text())}


def test_rayservice_serves_serve_config_yaml() -> None:
    service = kube_docs()["RayService"]
    v2 = yaml.safe_load(service["spec"]["serveConfigV2"])
    keys = ("name", "route_prefix", "import_path", "args")
    assert [{k: a.get(k) for k in keys} for a in v2["applications"]] == [{k: serve_app().get(k) for k in keys}]
    assert v2["http_options"]["host"] == "0.0.0.0"  # reachable through the pod's service


def test_rayservice_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = kube_docs()
    assert set(docs) == {"ConfigMap", "RayService"}, "no Secret in git: create it out of band"
    cluster = docs["RayService"]["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == ray_pin()
    assert cluster["gcsFaultToleranceOptions"]["redisAddress"]
    assert "secretKeyRef" in cluster["gcsFaultToleranceOptions"]["redisPassword"]["valueFrom"]
    assert cluster["authOptions"]["mode"] == "token"

    groups = {"head": cluster["headGroupSpec"]} | {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    advertised: dict[str, set[str]] = {}
    for name, group in groups.items():
        advertised[name] = set(json.loads(json.loads(group["rayStartParams"]["resources"])))
        assert group["rayStartParams"]["metrics-export-port"]
        pod = group["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"]:
            assert container["image"].endswith(f":{project_version()}")
            refs = {next(iter(r)): next(iter(r.values()))["name"] for r in container["envFrom"]}
            assert refs == {"configMapRef": "genpulse-env", "secretRef": "genpulse-secrets"}
    gpu = groups["gpu-workers"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == "1" and advertised["gpu-workers"] == {"gpu_node"}
    assert advertised["provider-workers"] == {"provider_node"} and advertised["head"] == {"head_node"}

    env = docs["ConfigMap"]["data"]
    assert not [k for k in env if SECRET_NAMES.search(k)]
    monkeypatch.setenv("GENPULSE_AUTH__ADMIN_KEY", "an-admin-key-from-the-secret")  # the Secret's, out of git
    args = load_args(
        env, yaml.safe_load(docs["RayService"]["spec"]["serveConfigV2"])["applications"][0]["args"], monkeypatch
    )
    assert args.placement.diffusion.resources == {"gpu_node": 0.01}
    assert placed_resources(args) <= set().union(*advertised.values())
    assert args.auth.mode == "keys", "the proxy listens on 0.0.0.0: auth off would refuse to start"


def exported_series() -> dict[str, set[str]]:
    """Every series name GenPulse exports, with the labels it carries."""
    from genpulse.core import metrics

    series: dict[str, set[str]] = {}
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    for m in metrics.ALL:
        for suffix in suffixes[m.kind]:
            series[f"ray_{m.name}{suffix}"] = {*m.tag_keys, "SessionName"} | ({"le"} if suffix == "_bucket" else set())
    series |= {
        "genpulse_store_tasks": {"provider", "status"},
        "genpulse_store_oldest_queued_seconds": {"provider"},
        "genpulse_store_up": set(),
        "ray_node_cpu_utilization": {"SessionName"},
    }
    return series


def test_grafana_dashboard_queries_exported_metrics() -> None:
    dashboard = json.loads((CLUSTER / "grafana" / "genpulse.json").read_text())
    series = exported_series()
    used = set()
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    for expr in queries:
        for name in re.findall(r"\b((?:ray_)?genpulse_[a-z0-9_]+|ray_node_cpu_utilization)\b", expr):
            assert name in series, f"{name} is not exported"
            used.add(name)
            labels = (
                set(re.findall(r"by \(([^)]*)\)", expr)[0].replace(" ", "").split(",")) if " by (" in expr else set()
            )
            selectors = set(re.findall(r"([A-Za-z_]+)=~?\"", expr))
            assert labels | selectors <= series[name] | {"le"}, (expr, series[name])
    from genpulse.core import metrics

    assert {f"ray_{m.name}" for m in metrics.ALL} <= {re.sub(r"_(total|bucket|sum|count)$", "", u) for u in used}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
