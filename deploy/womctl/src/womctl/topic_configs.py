"""Reading and setting topic configs: DescribeConfigs, and IncrementalAlterConfigs, which aiokafka lacks.

IncrementalAlterConfigs (Kafka 2.3+) sets the named keys and leaves every other override of the
topic alone; the legacy AlterConfigs that aiokafka offers replaces all of a topic's overrides at
once, so a key missing from the request would silently fall back to the broker default.
"""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

__all__ = ["describe_topic_configs", "set_topic_configs"]

_TOPIC = 2  # ConfigResource type
_SET = 0  # IncrementalAlterConfigs operation


class _IncrementalAlterConfigsResponseV0(Response):  # type: ignore[misc]
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(
            ("error_code", Int16), ("error_message", String("utf-8")),
            ("resource_type", Int8), ("resource_name", String("utf-8")),
        )),
    )  # fmt: skip


class _IncrementalAlterConfigsRequestV0(RequestStruct):  # type: ignore[misc]
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = _IncrementalAlterConfigsResponseV0
    SCHEMA = Schema(
        ("resources", Array(
            ("resource_type", Int8), ("resource_name", String("utf-8")),
            ("configs", Array(
                ("name", String("utf-8")), ("config_operation", Int8), ("value", String("utf-8")),
            )),
        )),
        ("validate_only", Boolean),
    )  # fmt: skip


class _IncrementalAlterConfigs(Request[_IncrementalAlterConfigsRequestV0]):  # type: ignore[misc]
    API_KEY = 44

    def __init__(self, resources: list[Any]) -> None:
        self.resources = resources

    def build(
        self, request_struct_class: type[_IncrementalAlterConfigsRequestV0]
    ) -> _IncrementalAlterConfigsRequestV0:
        return request_struct_class(self.resources, False)


async def describe_topic_configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    """Topic → its configs as the broker reports them (name → value; sensitive ones left out)."""
    if not topics:
        return {}
    # every config of each topic: some brokers drop the connection when asked for named keys
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for error_code, message, _type, name, entries in response.resources:
            if error_code:
                raise for_code(error_code)(f"describing the configs of {name}: {message}")
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return configs


async def set_topic_configs(admin: AIOKafkaAdminClient, changes: dict[str, dict[str, str]]) -> None:
    """Set the given keys of each topic, leaving its other configs as they are.

    Raises IncompatibleBrokerVersion when the broker does not offer IncrementalAlterConfigs.
    """
    resources = [
        (_TOPIC, topic, [(key, _SET, value) for key, value in sorted(values.items())])
        for topic, values in changes.items()
        if values
    ]
    if not resources:
        return
    response = await admin._send_request(_IncrementalAlterConfigs(resources))  # no public API for it
    for error_code, message, _type, name in response.responses:
        if error_code:
            raise for_code(error_code)(f"altering the configs of {name}: {message}")
