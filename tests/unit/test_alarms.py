"""The alarms in template.yaml watch metrics the code really emits, under the names the code gives them."""

import re

from local import template

PACKAGE = template.ROOT / "layers" / "common" / "reels_live"


def custom_metrics_watched() -> set[str]:
    """Metric names of every alarm (plain or metric math) in the Powertools namespace."""
    namespace = template.load()["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    watched = set()
    for alarm in template.resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        metrics = [properties] + [
            query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query
        ]
        watched |= {metric["MetricName"] for metric in metrics if metric.get("Namespace") == namespace}
    return watched


def emitted_names() -> set[str]:
    """String literals in the domain package that could be metric names (CamelCase words)."""
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    return set(re.findall(r'"([A-Z][A-Za-z]+)"', source))


def test_every_custom_metric_an_alarm_watches_is_emitted_by_the_code() -> None:
    watched = custom_metrics_watched()

    assert watched >= {"RoomCreateFailed", "ReconcilerLiveKitUnavailable", "EmailNotSent"}
    assert watched <= emitted_names()


def test_every_alarm_tells_the_alarm_topic_and_treats_silence_as_fine() -> None:
    for logical_id, alarm in template.resources("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id


def test_both_dead_letter_queues_are_watched() -> None:
    watched_queues = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in template.resources("AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }
    dead_letter_queues = {
        spec["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for spec in template.resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in spec.get("Properties", {})
    }

    assert dead_letter_queues == {"GoLiveDeadLetterQueue", "NotificationChunkDeadLetterQueue"}
    assert watched_queues == dead_letter_queues
