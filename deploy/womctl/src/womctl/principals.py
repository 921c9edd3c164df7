"""`womctl kafka principals`: who may do what on the broker, derived from the services' contracts.

Each service gets a principal of its own, `wom-<service>-kafka` (the name of the Secret Strimzi
keeps its password in), that may write the topics it
publishes (its own event types and its dead-letter topic) and read the topics it consumes in its
consumer group, `wom-<service>`; nothing else. Upstream systems share `wom-upstream-kafka`, which
may write the topics of upstream events only; `wom-operator-kafka` is womctl's (topics, dead letters and
their replay, consumer lag). What a service publishes and consumes is read from its committed
AsyncAPI document (contracts/asyncapi/, checked against the service on every test run), so a
handler added to a service shows here as a new grant, and nowhere by hand.

The grants are rendered two ways: Strimzi `KafkaUser` objects (SCRAM-SHA-512, simple
authorization; Strimzi 1.x, kafka.strimzi.io/v1) for Kubernetes, committed as
deploy/k8s/kafka/users.yaml, and `kafka-acls.sh` commands for any other Apache Kafka cluster,
committed for docker-compose.yml's broker as deploy/kafka/acls.sh.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from wom_contracts import SERVICES, UPSTREAM_TYPES
from wom_contracts.asyncapi import ASYNCAPI_DIR

__all__ = [
    "ACLS_FILE",
    "OPERATOR",
    "UPSTREAM",
    "USERS_FILE",
    "Grant",
    "Principal",
    "acl_commands",
    "kafka_users",
    "principal_of",
    "principals",
    "render_acls",
    "render_users",
]

DEPLOY = Path(__file__).resolve().parents[3]
USERS_FILE = DEPLOY / "k8s" / "kafka" / "users.yaml"
ACLS_FILE = DEPLOY / "kafka" / "acls.sh"
COMPOSE_LOOPBACK = "localhost:9094"  # deploy/kafka/server.properties: the listener LOCAL
UPSTREAM = "wom-upstream-kafka"
OPERATOR = "wom-operator-kafka"


def principal_of(service: str) -> str:
    """A service's Kafka principal (its SASL username)."""
    return f"wom-{service}-kafka"


@dataclass(frozen=True)
class Grant:
    """Operations on one topic or group (a name, or every name with a prefix)."""

    resource: Literal["topic", "group"]
    name: str
    operations: tuple[str, ...]
    pattern: Literal["literal", "prefix"] = "literal"


@dataclass
class Principal:
    name: str
    purpose: str
    grants: list[Grant] = field(default_factory=list)


def _interface(document: dict[str, Any]) -> tuple[list[str], list[str], str]:
    """(topics published, topics consumed, consumer group) of a service's AsyncAPI document."""
    channels = document["channels"]
    sends, receives, groups = [], [], set()
    for operation in document["operations"].values():
        topic = channels[operation["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
        if operation["action"] == "send":
            sends.append(topic)
        else:
            receives.append(topic)
            groups.update(operation["bindings"]["kafka"]["groupId"]["enum"])
    (group,) = groups
    return sorted(sends), sorted(receives), group


def principals(directory: Path = ASYNCAPI_DIR) -> list[Principal]:
    """The principals of a deployment and their grants, the services' from their documents."""
    services: list[Principal] = []
    every_topic: set[str] = set()
    consumed: set[str] = set()
    dead_letters: list[str] = []
    for service in SERVICES:
        document = json.loads((directory / f"{service}.json").read_text())
        sends, receives, group = _interface(document)
        grants = [Grant("topic", topic, ("Write", "Describe")) for topic in sends]
        grants += [Grant("topic", topic, ("Read", "Describe")) for topic in receives]
        grants.append(Grant("group", group, ("Read",)))
        services.append(Principal(principal_of(service), f"the {service} service", grants))
        every_topic.update(sends, receives)
        consumed.update(receives)
        dead_letters += [topic for topic in sends if topic.endswith(".dlq")]
    upstream = Principal(
        UPSTREAM,
        "upstream systems: the shop's events and survey answers",
        [Grant("topic", topic, ("Write", "Describe")) for topic in sorted(UPSTREAM_TYPES)],
    )
    operator = Principal(
        OPERATOR,
        "womctl: topics apply, dead letters (list, show, replay), consumer lag",
        [Grant("topic", topic, ("Create", "Alter", "AlterConfigs", "DescribeConfigs", "Describe"))
         for topic in sorted(every_topic)]
        + [Grant("topic", topic, ("Read",)) for topic in sorted(dead_letters)]
        + [Grant("topic", topic, ("Write",)) for topic in sorted(consumed)]  # a replay goes back
        + [Grant("group", "wom-", ("Describe",), "prefix")],
    )  # fmt: skip
    return [*services, upstream, operator]


def kafka_users(people: list[Principal], cluster: str = "kafka") -> list[dict[str, Any]]:
    """Strimzi KafkaUser objects: SCRAM-SHA-512 credentials (the User Operator puts the password
    in a Secret named like the user) and the grants as simple-authorization ACLs."""
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaUser",
            "metadata": {
                "name": person.name,
                "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "wom"},
                "annotations": {"wom.dev/purpose": person.purpose},
            },
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {
                    "type": "simple",
                    "acls": [
                        {
                            "resource": {
                                "type": grant.resource,
                                "name": grant.name,
                                "patternType": grant.pattern,
                            },
                            "operations": list(grant.operations),
                        }
                        for grant in person.grants
                    ],
                },
            },
        }
        for person in people
    ]


def render_users(people: list[Principal], cluster: str = "kafka") -> str:
    """The committed text of deploy/k8s/kafka/users.yaml."""
    header = (
        "# Generated from contracts/asyncapi/ by `womctl kafka principals --output strimzi --write`:\n"
        "# do not edit.\n"
        "# One SCRAM-SHA-512 principal per service, allowed its own topics, its dead-letter topic and\n"
        "# its consumer group only (deploy/README.md, Kafka credentials).\n"
    )
    users = kafka_users(people, cluster)
    return header + yaml.safe_dump_all(users, sort_keys=False, explicit_start=True, width=100)


def acl_commands(people: list[Principal], bootstrap: str, command_config: str | None = None) -> list[str]:
    """`kafka-acls.sh --add` commands that give each principal its grants, on any Kafka cluster:
    one per principal and kind of grant (every topic it may write in one), as each starts a JVM."""
    lines = []
    for person in people:
        kinds: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
        for grant in person.grants:
            kinds.setdefault((grant.resource, grant.pattern, grant.operations), []).append(grant.name)
        for (resource, pattern, operations), names in kinds.items():
            words = ["kafka-acls.sh", "--bootstrap-server", bootstrap]
            if command_config is not None:
                words += ["--command-config", command_config]
            words += ["--add", "--allow-principal", f"User:{person.name}", "--resource-pattern-type", pattern]
            for operation in operations:
                words += ["--operation", operation]
            for name in names:
                words += [f"--{resource}", name]
            lines.append(shlex.join(words))
    return lines


def render_acls(people: list[Principal]) -> str:
    """The committed text of deploy/kafka/acls.sh: the grants on the broker of docker-compose.yml,
    asked on its loopback listener (where the kafka-acls job shares the broker's network)."""
    header = (
        "#!/bin/sh\n"
        "# Generated from contracts/asyncapi/ by `womctl kafka principals --output acls --write`:\n"
        "# do not edit. The ACLs of docker-compose.yml's broker, one principal per service\n"
        "# (deploy/README.md, Kafka credentials). Adding an ACL that exists changes nothing, so this\n"
        "# runs at every start.\n"
        "set -eu\n"
        "PATH=/opt/kafka/bin:$PATH\n"
    )
    return header + "".join(line + "\n" for line in acl_commands(people, COMPOSE_LOOPBACK))
