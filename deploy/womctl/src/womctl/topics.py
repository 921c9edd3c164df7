"""The one topics definition (deploy/topics.yaml) and creating its topics on a cluster."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_DEFINITION", "TopicSpec", "TopicsDefinition", "create_topics", "load_definition"]

DEFAULT_DEFINITION = Path(__file__).resolve().parents[3] / "topics.yaml"


class TopicSpec(BaseModel):
    """One topic's settings; unset values come from the definition's defaults."""

    model_config = ConfigDict(extra="forbid")

    partitions: int | None = Field(default=None, ge=1)


class TopicsDefinition(BaseModel):
    """Every topic of wom with its partition count."""

    model_config = ConfigDict(extra="forbid")

    default_partitions: int = Field(default=12, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    topics: dict[str, TopicSpec]

    def partitions(self) -> dict[str, int]:
        """Topic name → partition count."""
        return {name: spec.partitions or self.default_partitions for name, spec in self.topics.items()}


def load_definition(path: Path = DEFAULT_DEFINITION) -> TopicsDefinition:
    """Read and validate a topics definition file."""
    return TopicsDefinition.model_validate(yaml.safe_load(path.read_text()))


async def create_topics(
    bootstrap: str,
    definition: Path = DEFAULT_DEFINITION,
    *,
    replication_factor: int | None = None,
    **client_options: Any,
) -> list[str]:
    """Create every topic of the definition that does not exist yet; return those created."""
    spec = load_definition(definition)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, count, replication_factor or spec.replication_factor)
            for name, count in spec.partitions().items()
            if name not in existing
        ]
        for topic in missing:  # one by one: an existing topic must not fail the others
            with suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
        return [topic.name for topic in missing]
    finally:
        await admin.close()
