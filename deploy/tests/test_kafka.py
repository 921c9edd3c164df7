"""Kafka in the shipped Kubernetes deployment: one principal per service and what it may do.

deploy/k8s/kafka (Strimzi KafkaUsers) is generated from the services' contracts and validated
against Strimzi's CRD; the grants hold the rule (a service writes its own topics and its
dead-letter topic only); every prod pod, the topics job and KEDA's lag reader log in as their own
principal, SCRAM over TLS, with the cluster's CA.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cloudcoil.models.keda.v1alpha1 import TriggerAuthentication
from womctl.principals import OPERATOR, UPSTREAM, USERS_FILE, Grant, principal_of, principals, render_users

from .k8s_checks import (
    SERVICES,
    Doc,
    config_maps,
    consumed,
    grant_problems,
    kafka_login_problems,
    main_container,
    of_kind,
    render,
)

CRD = Path(__file__).with_name("crds") / "strimzi-1.2.0-kafkauser.yaml"


def no_problems(problems: list[str]) -> None:
    assert not problems, "\n" + "\n".join(problems)


def _closed(schema: Any) -> Any:
    """The CRD's schema with unknown fields refused (the API server would prune them silently)."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "metadata" not in schema["properties"]
        ):
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def test_the_users_are_generated_from_the_contracts() -> None:
    assert USERS_FILE.read_text() == render_users(principals()), (
        "deploy/k8s/kafka/users.yaml is stale: womctl kafka principals --output strimzi --write"
    )


def test_the_users_are_valid_strimzi_kafka_users() -> None:
    (version,) = yaml.safe_load(CRD.read_text().split("\n", 3)[3])["spec"]["versions"]
    validator = jsonschema.Draft7Validator(_closed(version["schema"]["openAPIV3Schema"]))
    users = of_kind(render("kafka", under="."), "KafkaUser")
    assert set(users) == {*(principal_of(s) for s in SERVICES), UPSTREAM, OPERATOR}
    for name, user in users.items():
        assert user["apiVersion"] == f"kafka.strimzi.io/{version['name']}", name
        assert user["metadata"]["namespace"] == "kafka", name  # where the User Operator watches
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "kafka", name
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(user)]
        no_problems([f"{name}: {error}" for error in errors])
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}, name
    broken = copy.deepcopy(users[OPERATOR])
    broken["spec"]["quota"] = {}  # a typo of quotas
    broken["spec"]["authorization"]["acls"][0]["operations"] = ["Wrte"]
    assert len(list(validator.iter_errors(broken))) == 2


def test_each_service_writes_only_its_own_topics_and_reads_what_it_consumes() -> None:
    people = principals()
    no_problems(grant_problems(people))
    by_name = {person.name: person for person in people}
    for service in SERVICES:
        grants = by_name[principal_of(service)].grants
        group, topics = consumed(service)  # what the service's app really subscribes to
        assert {g.name for g in grants if g.resource == "topic" and "Read" in g.operations} == set(topics)
        assert [g.name for g in grants if g.resource == "group"] == [group], service
        assert f"{service}.dlq" in {g.name for g in grants if "Write" in g.operations}, service


def test_the_grant_rule_finds_what_is_wrong() -> None:
    people = copy.deepcopy(principals())
    by_name = {person.name: person for person in people}
    by_name[principal_of("rewards")].grants.append(
        Grant("topic", "referrals.referral.qualified.v1", ("Write",))
    )
    by_name[principal_of("outreach")].grants.append(Grant("topic", "outreach.", ("Write",), "prefix"))
    by_name[UPSTREAM].grants.append(Grant("topic", "rewards.points.earned.v1", ("Write",)))
    by_name[OPERATOR].grants.append(Grant("topic", "rewards.points.earned.v1", ("Write",)))
    by_name[principal_of("feedback")].grants.append(Grant("topic", "*", ("All",)))
    problems = "\n".join(grant_problems(people))
    for expected in (
        "wom-rewards-kafka on topic referrals.referral.qualified.v1: writes a topic of another service",
        "wom-outreach-kafka on topic outreach.: a prefix pattern",
        "wom-upstream-kafka on topic rewards.points.earned.v1: an upstream system writes a topic of wom",
        "wom-operator-kafka on topic rewards.points.earned.v1: womctl writes a topic no service consumes",
        "wom-feedback-kafka on topic *: All",
    ):
        assert expected in problems


def test_prod_pods_log_in_as_their_own_principal_over_tls() -> None:
    docs, users = render("prod"), of_kind(render("kafka", under="."), "KafkaUser")
    maps = config_maps(docs)
    for name, deployment in of_kind(docs, "Deployment").items():
        assert principal_of(name) in users, name
        pod = deployment["spec"]["template"]["spec"]
        no_problems(
            [
                f"{name}: {p}"
                for p in kafka_login_problems(pod, main_container(deployment), maps, principal_of(name))
            ]
        )
    topics = render("prod/topics")
    job = of_kind(topics, "Job")["wom-topics"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    no_problems(kafka_login_problems(job, container, config_maps(topics), OPERATOR))


def test_the_login_check_finds_what_is_wrong() -> None:
    docs = copy.deepcopy(list(render("prod")))
    deployment = of_kind(docs, "Deployment")["rewards"]
    main, pod = main_container(deployment), deployment["spec"]["template"]["spec"]
    main["env"] = [e for e in main["env"] if e["name"] != "KAFKA_SASL_PASSWORD"]
    main["env"].append(
        {
            "name": "KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "wom-kafka", "key": "password"}},
        }
    )
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "kafka-ca"]
    problems = "\n".join(kafka_login_problems(pod, main, config_maps(docs), principal_of("referrals")))
    for expected in (
        "KAFKA_SASL_USERNAME is 'wom-rewards-kafka', not 'wom-referrals-kafka'",
        "KAFKA_SASL_PASSWORD is '<secret:wom-kafka/password>'",
        "is not the cluster CA",
    ):
        assert expected in problems


def test_keda_reads_the_lag_as_the_service_over_tls() -> None:
    docs = render("prod")
    authentications = of_kind(docs, "TriggerAuthentication")
    for name, scaled in of_kind(docs, "ScaledObject").items():
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["sasl"] == "scram_sha512" and trigger["metadata"]["tls"] == "enable", (
                name
            )
            doc: Doc = authentications[trigger["authenticationRef"]["name"]]
            model = TriggerAuthentication.model_validate(doc)
            assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, name
            spec = doc["spec"]
            assert spec["env"] == [
                {"parameter": "username", "name": "KAFKA_SASL_USERNAME", "containerName": name}
            ]
            assert {(r["parameter"], r["name"], r["key"]) for r in spec["secretTargetRef"]} == {
                ("password", principal_of(name), "password"),
                ("ca", "kafka-cluster-ca-cert", "ca.crt"),
            }, name
