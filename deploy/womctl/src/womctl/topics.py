"""The one topics definition (deploy/topics.yaml), and bringing a cluster to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import IncompatibleBrokerVersion, TopicAlreadyExistsError, for_code
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from womctl.cluster import DEFAULT_TIMEOUT, admin_client
from womctl.topic_configs import describe_topic_configs, set_topic_configs

__all__ = [
    "DEFAULT_DEFINITION",
    "ApplyReport",
    "Plan",
    "TopicRow",
    "TopicSpec",
    "TopicState",
    "TopicsDefinition",
    "apply_topics",
    "create_topics",
    "list_topics",
    "load_definition",
    "plan_changes",
    "read_cluster",
    "topic_rows",
]

DEFAULT_DEFINITION = Path(__file__).resolve().parents[3] / "topics.yaml"


def _config_text(value: Any) -> Any:
    # Kafka configs are strings; YAML gives numbers and booleans
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


ConfigName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$")]
ConfigValue = Annotated[str, BeforeValidator(_config_text)]
TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]


class TopicSpec(BaseModel):
    """One topic's settings; what is unset comes from the definition's defaults."""

    model_config = ConfigDict(extra="forbid")

    partitions: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
    config: dict[ConfigName, ConfigValue] = Field(default_factory=dict)


class Defaults(BaseModel):
    """Settings of every topic that does not set its own."""

    model_config = ConfigDict(extra="forbid")

    partitions: int = Field(default=12, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    config: dict[ConfigName, ConfigValue] = Field(default_factory=dict)


class TopicsDefinition(BaseModel):
    """Every topic of wom with its partitions, replication factor and Kafka topic configs."""

    model_config = ConfigDict(extra="forbid")

    defaults: Defaults = Field(default_factory=Defaults)
    topics: dict[TopicName, TopicSpec]

    def partitions(self) -> dict[str, int]:
        """Topic name → partition count."""
        return {name: spec.partitions or self.defaults.partitions for name, spec in self.topics.items()}

    def replication_factor(self, topic: str) -> int:
        """The replication factor the file asks for `topic`."""
        return self.topics[topic].replication_factor or self.defaults.replication_factor

    def configs(self) -> dict[str, dict[str, str]]:
        """Topic name → its Kafka configs: the defaults overridden key by key."""
        return {name: {**self.defaults.config, **spec.config} for name, spec in self.topics.items()}


def load_definition(path: Path = DEFAULT_DEFINITION) -> TopicsDefinition:
    """Read and validate a topics definition file."""
    return TopicsDefinition.model_validate(yaml.safe_load(path.read_text()))


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it."""

    partitions: int
    replication_factor: int
    config: dict[str, str]


async def read_cluster(admin: AIOKafkaAdminClient, only: set[str] | None = None) -> dict[str, TopicState]:
    """Every topic of the cluster (or those of `only` it has) but the internal ones, with
    partitions, replicas and configs."""
    described = [
        topic for topic in await admin.describe_topics()
        if not topic["is_internal"] and not topic["topic"].startswith("__")
        and (only is None or topic["topic"] in only)
    ]  # fmt: skip
    configs = await describe_topic_configs(admin, [topic["topic"] for topic in described])
    return {
        topic["topic"]: TopicState(
            partitions=len(topic["partitions"]),
            replication_factor=max((len(p["replicas"]) for p in topic["partitions"]), default=0),
            config=configs.get(topic["topic"], {}),
        )
        for topic in described
    }


@dataclass
class Plan:
    """What it takes to bring a cluster to the definition, and what will not be done."""

    create: list[NewTopic] = field(default_factory=list)
    add_partitions: dict[str, tuple[int, int]] = field(default_factory=dict)  # topic → (has, wanted)
    set_config: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)  # (has, wanted)
    notes: list[str] = field(default_factory=list)  # differences that apply leaves alone, and why

    @property
    def empty(self) -> bool:
        """True when the cluster already matches (notes aside)."""
        return not (self.create or self.add_partitions or self.set_config)


def plan_changes(
    definition: TopicsDefinition, cluster: dict[str, TopicState], *, replication_factor: int | None = None
) -> Plan:
    """Compare the definition with the cluster: topics to create, partitions to add, configs to set."""
    plan = Plan()
    wanted_partitions, wanted_configs = definition.partitions(), definition.configs()
    for topic, partitions in wanted_partitions.items():
        config = wanted_configs[topic]
        replicas = replication_factor or definition.replication_factor(topic)
        state = cluster.get(topic)
        if state is None:
            plan.create.append(NewTopic(topic, partitions, replicas, topic_configs=config))
            continue
        if state.partitions < partitions:
            plan.add_partitions[topic] = (state.partitions, partitions)
        elif state.partitions > partitions:
            plan.notes.append(
                f"{topic}: has {state.partitions} partitions, the file asks for {partitions}; "
                "partitions are never decreased (that would move keys between partitions)"
            )
        if replication_factor and state.replication_factor != replicas:
            plan.notes.append(
                f"{topic}: replication factor {state.replication_factor}, {replicas} asked; "
                "womctl does not reassign replicas (kafka-reassign-partitions.sh does)"
            )
        has = state.config
        differing = {key: (has.get(key), value) for key, value in config.items() if has.get(key) != value}
        if differing:
            plan.set_config[topic] = differing
    return plan


@dataclass(frozen=True)
class TopicRow:
    """One line of `womctl topics list`: a topic as the cluster has it, and how it differs."""

    name: str
    status: Literal["ok", "differs", "missing", "not in file"]  # missing: in the file, not on the cluster
    partitions: int | None = None
    replication_factor: int | None = None
    config: dict[str, str] = field(default_factory=dict)  # the keys the file manages
    differences: list[str] = field(default_factory=list)  # what the file asks instead


def topic_rows(definition: TopicsDefinition, cluster: dict[str, TopicState]) -> list[TopicRow]:
    """Every topic of the file and of the cluster, sorted, marked where they differ."""
    wanted_partitions, wanted_configs = definition.partitions(), definition.configs()
    rows = []
    for name in sorted(set(wanted_partitions) | set(cluster)):
        state = cluster.get(name)
        keys = wanted_configs.get(name, definition.defaults.config)
        if state is None:
            rows.append(TopicRow(name, "missing"))
            continue
        config = {key: state.config[key] for key in keys if key in state.config}
        if name not in wanted_partitions:
            rows.append(TopicRow(name, "not in file", state.partitions, state.replication_factor, config))
            continue
        has = state.config
        differences = [f"{key}: file {value}" for key, value in keys.items() if has.get(key) != value]
        if state.partitions != wanted_partitions[name]:
            differences.insert(0, f"partitions: file {wanted_partitions[name]}")
        status: Literal["ok", "differs"] = "differs" if differences else "ok"
        rows.append(TopicRow(name, status, state.partitions, state.replication_factor, config, differences))
    return rows


async def list_topics(
    options: dict[str, Any], definition: Path = DEFAULT_DEFINITION, *, timeout: float = DEFAULT_TIMEOUT
) -> list[TopicRow]:
    """The cluster's topics next to the file's."""
    spec = load_definition(definition)
    async with admin_client(options, timeout) as admin:
        return topic_rows(spec, await read_cluster(admin))


@dataclass
class ApplyReport:
    """What `apply_topics` did, what it left alone on purpose, and what the broker refused."""

    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def apply_topics(
    options: dict[str, Any],
    definition: Path = DEFAULT_DEFINITION,
    *,
    replication_factor: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ApplyReport:
    """Create missing topics, add partitions and set configs so that the cluster matches the file."""
    spec = load_definition(definition)
    async with admin_client(options, timeout) as admin:
        cluster = await read_cluster(admin, only=set(spec.topics))
        plan = plan_changes(spec, cluster, replication_factor=replication_factor)
        report = ApplyReport(notes=list(plan.notes))
        for topic in await _create(admin, plan.create):
            report.done.append(f"{topic.name}: created, {_describe(topic)}")
        await _add_partitions(admin, plan.add_partitions, report)
        await _set_configs(admin, plan.set_config, report)
    return report


def _describe(topic: NewTopic) -> str:
    configs = ", ".join(f"{k}={v}" for k, v in sorted(topic.topic_configs.items()))
    return f"{topic.num_partitions} partitions, replication factor {topic.replication_factor}" + (
        f", {configs}" if configs else ""
    )


async def _create(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> list[NewTopic]:
    if not topics:
        return []
    response = await admin.create_topics(topics)
    created = {topic.name: topic for topic in topics}
    for name, error_code, *rest in response.topic_errors:
        error = for_code(error_code) if error_code else None
        if error is TopicAlreadyExistsError:  # created meanwhile by someone else: fine
            created.pop(name)
        elif error is not None:
            raise error(f"creating {name}: {rest[0] if rest else ''}")
    return list(created.values())


async def _add_partitions(
    admin: AIOKafkaAdminClient, changes: dict[str, tuple[int, int]], report: ApplyReport
) -> None:
    for topic, (has, wanted) in changes.items():
        try:
            await admin.create_partitions({topic: NewPartitions(wanted)})
        except IncompatibleBrokerVersion:
            report.refused.append(
                f"{topic}: has {has} partitions, the file asks for {wanted}; this broker cannot add "
                "partitions (no CreatePartitions API; the embedded broker has none)"
            )
            continue
        report.done.append(f"{topic}: partitions {has} → {wanted}")


async def _set_configs(
    admin: AIOKafkaAdminClient, changes: dict[str, dict[str, tuple[str | None, str]]], report: ApplyReport
) -> None:
    if not changes:
        return
    wanted = {topic: {key: new for key, (_, new) in keys.items()} for topic, keys in changes.items()}
    try:
        await set_topic_configs(admin, wanted)
    except IncompatibleBrokerVersion:
        for topic in changes:
            report.refused.append(
                f"{topic}: configs differ ({_config_changes(changes[topic])}); this broker cannot alter "
                "topic configs (no IncrementalAlterConfigs API)"
            )
        return
    for topic, keys in changes.items():
        report.done.append(f"{topic}: {_config_changes(keys)}")


def _config_changes(keys: dict[str, tuple[str | None, str]]) -> str:
    return ", ".join(f"{key} {old or '(broker default)'} → {new}" for key, (old, new) in sorted(keys.items()))


async def create_topics(
    bootstrap: str,
    definition: Path = DEFAULT_DEFINITION,
    *,
    replication_factor: int | None = None,
    **client_options: Any,
) -> list[str]:
    """Create every topic of the definition that does not exist yet (with its configs); return those
    created. Existing topics are left as they are: `apply_topics` also corrects them."""
    spec = load_definition(definition)
    async with admin_client({"bootstrap_servers": bootstrap, **client_options}) as admin:
        existing = set(await admin.list_topics())
        plan = plan_changes(spec, {}, replication_factor=replication_factor)
        created = await _create(admin, [topic for topic in plan.create if topic.name not in existing])
    return [topic.name for topic in created]
