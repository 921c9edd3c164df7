"""deploy/k8s: every overlay rendered by real kustomize and checked offline.

Core objects are validated against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
an unknown field fails), KEDA ScaledObjects against models generated from KEDA's CRD
(cloudcoil-models-keda). Then what the schemas cannot say: probes on /alive and /health,
resources, a restricted security context, secrets only by reference, settings the services
accept, and autoscaling on the consumer group and topics each service really consumes.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from .k8s_checks import (
    DEV_REPLICAS,
    KINDS,
    KUBERNETES_VERSIONS,
    OVERLAYS,
    SERVICES,
    Doc,
    config_maps,
    consumed,
    containers,
    credential_problems,
    deployment_problems,
    environment,
    main_container,
    of_kind,
    pod_problems,
    reference_problems,
    render,
    scaling_problems,
    secret_problems,
    settings_class,
)


def no_problems(problems: list[str]) -> None:
    assert not problems, "\n" + "\n".join(problems)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_are_valid_kubernetes(overlay: str, version: str) -> None:
    docs = render(overlay)
    assert {doc["kind"] for doc in docs} <= KINDS, "a kind the test does not know (or a Secret) crept in"
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {error.message}")


def test_scaled_objects_are_valid_keda() -> None:
    scaled = of_kind(render("prod"), "ScaledObject")
    assert scaled, "prod has no KEDA ScaledObject"
    for name, doc in scaled.items():
        model = ScaledObject.model_validate(doc)  # types and required fields of KEDA's CRD
        # the model drops what the CRD does not know: a typo comes back missing
        assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, name


def test_every_service_is_deployed_whole(overlay: str) -> None:
    docs = render(overlay)
    deployments, maps = of_kind(docs, "Deployment"), config_maps(docs)
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = of_kind(docs, "Service")[name]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= {"http"}, name
        budget = of_kind(docs, "PodDisruptionBudget")[name]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert any(ref.startswith(f"{name}-config") for ref in maps), name
        no_problems(deployment_problems(deployment, maps))
        no_problems(reference_problems(deployment, maps))


def test_secrets_are_only_referenced(overlay: str) -> None:
    docs = render(overlay)
    maps = config_maps(docs)
    for name, deployment in of_kind(docs, "Deployment").items():
        no_problems(secret_problems(deployment, maps, settings_class(name)))
        no_problems(credential_problems(deployment, maps))
    # the console's agents (password hashes) are a file from a Secret, where FEEDBACK_AGENTS_FILE says
    feedback = of_kind(docs, "Deployment")["feedback"]
    path = Path(environment(main_container(feedback), maps)["FEEDBACK_AGENTS_FILE"])
    mount = next(m for m in main_container(feedback)["volumeMounts"] if m["mountPath"] == str(path.parent))
    volume = next(v for v in feedback["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "wom-feedback-agents"
    assert {"key": "agents.yaml", "path": path.name} in volume["secret"]["items"]


def test_services_accept_their_settings(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service's settings class reads the rendered environment as it would in the pod."""
    docs = render(overlay)
    maps = config_maps(docs)
    for name, deployment in of_kind(docs, "Deployment").items():
        env = environment(main_container(deployment), maps)
        cls = settings_class(name)
        with monkeypatch.context() as patch:
            for field in cls.model_fields:  # only what the pod sets, not this machine's variables
                patch.delenv(field.upper(), raising=False)
            for key, value in env.items():
                patch.setenv(key, value)
            settings = cls(_env_file=None)
        assert settings.http_host == "0.0.0.0" and settings.run_migrations is False, name
        assert settings.database_url.startswith("postgresql+asyncpg://"), name
        assert settings.kafka_enable_idempotence is (overlay == "prod"), name
        assert settings.consumer_group == consumed(name)[0], name
        assert (
            settings.api_tokens_file == Path("/etc/wom/tokens/tokens.toml") and settings.api_token is None
        ), name
        if overlay == "prod":
            public = [v for k, v in env.items() if k.endswith(("_PUBLIC_URL", "_STOREFRONT_URL"))]
            assert all(url.startswith("https://") for url in public), (name, public)
        migrate = deployment["spec"]["template"]["spec"]["initContainers"][0]
        assert migrate["command"] == [f"wom-{name}", "migrate"], name
        assert environment(migrate, maps)["DATABASE_URL"] == env["DATABASE_URL"], name


def test_dev_runs_one_pod_each_without_autoscaling() -> None:
    docs = render("dev")
    assert not of_kind(docs, "ScaledObject")
    for name, deployment in of_kind(docs, "Deployment").items():
        assert deployment["spec"]["replicas"] == DEV_REPLICAS, name
        assert all(c["image"] == f"wom-{name}:dev" for c in containers(deployment)), name


def test_prod_scales_on_consumer_lag_and_spreads() -> None:
    docs = render("prod")
    deployments, scaled = of_kind(docs, "Deployment"), of_kind(docs, "ScaledObject")
    assert set(scaled) == set(deployments) == set(SERVICES)
    platform = next(data for name, data in config_maps(docs).items() if name.startswith("wom-platform"))
    kafka = platform["KAFKA_BOOTSTRAP_SERVERS"]
    for name, deployment in deployments.items():
        no_problems(scaling_problems(scaled[name], deployment, kafka, name))
        pod = deployment["spec"]["template"]
        spread = pod["spec"].get("topologySpreadConstraints", [])
        assert {c["topologyKey"] for c in spread} >= {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in spread:  # counts this service's pods only
            selected = constraint["labelSelector"]["matchLabels"]
            assert selected.items() <= pod["metadata"]["labels"].items(), name
            assert "app.kubernetes.io/name" in {*selected, *constraint.get("matchLabelKeys", [])}, name
        for container in containers(deployment):
            image, _, tag = container["image"].rpartition(":")
            assert "/" in image and tag and tag != "latest", container["image"]


@pytest.mark.parametrize("environment_name", OVERLAYS)
def test_topics_are_created_by_a_job_of_their_own(environment_name: str) -> None:
    """overlays/<env>/topics: womctl topics against the brokers the services of <env> use."""
    docs = render(f"{environment_name}/topics")
    assert {doc["kind"] for doc in docs} == {"ConfigMap", "Job"}
    for doc in docs:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    job = of_kind(docs, "Job")["wom-topics"]
    no_problems(pod_problems("wom-topics", job["spec"]["template"]["spec"]))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    services = render(environment_name)
    platform = next(data for name, data in config_maps(services).items() if name.startswith("wom-platform"))
    env = environment(container, config_maps(docs))
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == platform["KAFKA_BOOTSTRAP_SERVERS"]
    assert env.get("KAFKA_SECURITY_PROTOCOL") == platform.get("KAFKA_SECURITY_PROTOCOL")
    release = {
        c["image"].rpartition(":")[2] for d in of_kind(services, "Deployment").values() for c in containers(d)
    }
    assert {container["image"].rpartition(":")[2]} == release, "womctl is not of the services' release"
    if environment_name == "prod":
        assert container["args"] == ["topics", "--replication-factor", "3"]


@pytest.fixture
def prod() -> Iterator[list[Doc]]:
    yield copy.deepcopy(list(render("prod")))


def test_the_checks_find_what_is_wrong(prod: list[Doc]) -> None:
    """Break the rendered prod output the ways the checks above guard against."""
    maps, deployment = config_maps(prod), of_kind(prod, "Deployment")["rewards"]
    main = main_container(deployment)
    del main["readinessProbe"]
    main["livenessProbe"]["httpGet"]["path"] = "/health"
    main["securityContext"]["readOnlyRootFilesystem"] = False
    del main["resources"]["limits"]["memory"]
    main["env"] = [e for e in main["env"] if e["name"] != "API_TOKEN"]
    main["env"].append({"name": "API_TOKEN", "value": "in-git"})
    tokens = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "api-tokens")
    tokens["secret"]["optional"] = True
    main["env"].append({"name": "SHOP_URL", "value": "https://$(SHOP_USER):hunter2@shop.example.com"})
    problems = "\n".join(
        deployment_problems(deployment, maps)
        + secret_problems(deployment, maps, settings_class("rewards"))
        + reference_problems(deployment, maps)
        + credential_problems(deployment, maps)
    )
    for expected in (
        "readinessProbe is not GET /health",
        "livenessProbe is not GET /alive",
        "root file system is writable",
        "no memory request and limit",
        "API_TOKEN has a literal value",
        "rewards: API_TOKEN is set (one token for every client)",
        "API_TOKENS_FILE /etc/wom/tokens/tokens.toml is not tokens.toml of the required Secret",
        "SHOP_URL carries a password",
        "uses $(SHOP_USER) before it is defined",
    ):
        assert expected in problems
    scaled = of_kind(prod, "ScaledObject")["rewards"]
    scaled["spec"]["maxReplicaCount"] = 24
    scaled["spec"]["triggers"].pop()
    scaled["spec"]["triggers"][0]["metadata"]["consumerGroup"] = "rewards"
    problems = "\n".join(scaling_problems(scaled, deployment, "kafka:9092", "rewards"))
    for expected in (
        "exceeds the partitions",
        "triggers on",
        "consumer group rewards",
        "asks kafka-kafka-bootstrap",
    ):
        assert expected in problems
    main["readinesProbe"] = {"httpGet": {"path": "/health", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def _selects(policy: Doc, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def _ports(rules: list[Doc]) -> set[str]:
    return {
        f"{port['port']}/{port.get('protocol', 'TCP')}" for rule in rules for port in rule.get("ports", [])
    }


PLATFORM_EGRESS = {"53/UDP", "53/TCP", "9092/TCP", "9093/TCP", "5432/TCP"}
SENDERS_EGRESS = {"25/TCP", "465/TCP", "587/TCP", "443/TCP", "1025/TCP"}  # mail and webhooks


def test_each_service_reaches_only_the_broker_its_database_and_its_mail_or_webhooks(overlay: str) -> None:
    docs = render(overlay)
    policies = list(of_kind(docs, "NetworkPolicy").values())
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [policy for policy in policies if _selects(policy, labels)]
        # selected both ways: what no policy allows is refused
        assert any({"Ingress", "Egress"} <= set(p["spec"]["policyTypes"]) for p in mine), name
        ingress = [rule for p in mine for rule in p["spec"].get("ingress", [])]
        egress = [rule for p in mine for rule in p["spec"].get("egress", [])]
        assert _ports(ingress) == {"8000/TCP"} and all(rule.get("ports") for rule in ingress), name
        assert all(rule.get("ports") for rule in egress), f"{name}: an egress rule open on every port"
        expected = PLATFORM_EGRESS | (SENDERS_EGRESS if name in {"outreach", "feedback"} else set())
        assert _ports(egress) == expected, name
    platform = of_kind(docs, "NetworkPolicy")["wom-platform"]["spec"]["egress"]
    peers = {port: rule["to"] for rule in platform for port in _ports([rule])}
    if overlay == "prod":  # the broker and the database in their own namespaces
        assert peers["9092/TCP"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
        ]
        assert peers["5432/TCP"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "postgres"}}}
        ]
    else:
        assert peers["9092/TCP"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka"}}}]


def test_behind_the_ingress_only_its_proxies_are_believed() -> None:
    """Prod trusts X-Forwarded-For from the pod network, so only the ingress controller's pods
    (and Prometheus) may reach the services' port: nobody else can claim a visitor's address."""
    docs = render("prod")
    platform = next(data for name, data in config_maps(docs).items() if name.startswith("wom-platform"))
    trusted = [ipaddress.ip_network(part) for part in platform["FORWARDED_ALLOW_IPS"].split(",")]
    assert trusted and all(network.prefixlen >= 8 for network in trusted)
    (http,) = of_kind(docs, "NetworkPolicy")["wom-platform"]["spec"]["ingress"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in http["from"]
    }
    assert namespaces == {"ingress-nginx", "monitoring"} and all(
        set(peer) == {"namespaceSelector"} for peer in http["from"]
    )
    assert "FORWARDED_ALLOW_IPS" not in next(
        data for name, data in config_maps(render("dev")).items() if name.startswith("wom-platform")
    )  # dev: the default, 127.0.0.1
