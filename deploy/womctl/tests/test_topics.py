"""deploy/topics.yaml and what `womctl topics apply|list` would change, without a broker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from wom_contracts import all_topics
from womctl.topics import TopicsDefinition, TopicState, load_definition, plan_changes, topic_rows

DAY_MS = 24 * 3600 * 1000
SERVICES = ["referrals", "rewards", "outreach", "feedback"]


def test_every_topic_has_partitions_retention_and_cleanup_policy() -> None:
    definition = load_definition()
    configs, partitions = definition.configs(), definition.partitions()
    assert sorted(configs) == sorted([*all_topics(), *(f"{s}.dlq" for s in SERVICES)])
    for topic in all_topics():  # events are facts: deleted after 30 days, never compacted
        assert partitions[topic] == 12
        assert configs[topic] == {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}, topic
    for service in SERVICES:  # dead letters wait longer for an operator
        assert partitions[f"{service}.dlq"] == 3
        assert configs[f"{service}.dlq"] == {"cleanup.policy": "delete", "retention.ms": str(90 * DAY_MS)}


def definition(**topics: dict) -> TopicsDefinition:  # type: ignore[type-arg]
    return TopicsDefinition.model_validate({
        "defaults": {"partitions": 4, "config": {"retention.ms": 1000, "cleanup.policy": "delete"}},
        "topics": topics,
    })  # fmt: skip


def test_a_topic_overrides_the_defaults_key_by_key_and_values_become_strings() -> None:
    spec = definition(a={}, b={"partitions": 2, "config": {"retention.ms": 5000, "min.insync.replicas": 2}})
    assert spec.partitions() == {"a": 4, "b": 2}
    assert spec.configs()["b"] == {
        "retention.ms": "5000", "cleanup.policy": "delete", "min.insync.replicas": "2"
    }  # fmt: skip


@pytest.mark.parametrize(
    "bad", [{"a": {"partitions": 0}}, {"a": {"retention.ms": 1}}, {"a b": {}}, {"a": {"config": {"X Y": 1}}}]
)
def test_a_bad_definition_is_refused(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError):
        definition(**bad)


def state(partitions: int = 4, **config: str) -> TopicState:
    return TopicState(partitions, 1, {"retention.ms": "1000", "cleanup.policy": "delete", **config})


def test_the_plan_creates_missing_topics_with_their_configs() -> None:
    plan = plan_changes(definition(a={}, b={}), {"a": state()}, replication_factor=3)
    [created] = plan.create
    assert (created.name, created.num_partitions, created.replication_factor) == ("b", 4, 3)
    assert created.topic_configs == {"retention.ms": "1000", "cleanup.policy": "delete"}
    assert not plan.add_partitions and not plan.set_config


def test_the_plan_adds_partitions_but_never_removes_them() -> None:
    plan = plan_changes(definition(a={}, b={"partitions": 2}), {"a": state(partitions=3), "b": state(3)})
    assert plan.add_partitions == {"a": (3, 4)}
    [note] = plan.notes
    assert note.startswith("b: has 3 partitions, the file asks for 2; partitions are never decreased")


def test_the_plan_sets_only_the_configs_that_differ_and_leaves_others_alone() -> None:
    cluster = {"a": TopicState(4, 1, {"retention.ms": "9", "segment.ms": "7"})}
    plan = plan_changes(definition(a={}), cluster)
    assert plan.set_config == {"a": {"retention.ms": ("9", "1000"), "cleanup.policy": (None, "delete")}}


def test_a_cluster_that_matches_needs_nothing() -> None:
    plan = plan_changes(definition(a={}), {"a": state(), "other": state()})
    assert plan.empty and not plan.notes


def test_list_marks_missing_differing_and_foreign_topics() -> None:
    cluster = {"a": state(), "b": state(partitions=2, **{"retention.ms": "5"}), "stray": state()}
    rows = {row.name: row for row in topic_rows(definition(a={}, b={}, c={}), cluster)}
    assert rows["a"].status == "ok"
    assert rows["a"].config == {"retention.ms": "1000", "cleanup.policy": "delete"}
    assert rows["b"].status == "differs"
    assert rows["b"].differences == ["partitions: file 4", "retention.ms: file 1000"]
    assert rows["c"].status == "missing" and rows["stray"].status == "not in file"
