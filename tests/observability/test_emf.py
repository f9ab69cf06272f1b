"""EMF documents written from CloudWatch's specification: parsing, validation and the Prometheus output."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from squall.metering.records import LogEntry
from squall.observability.emf import (
    EmfMetrics,
    InvalidDocument,
    MetricValues,
    family_name,
    find_documents,
    label_name,
    parse_document,
)

TIMESTAMP_MS = 1700000000000
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def document(
    metrics: list[dict[str, Any]] | None = None,
    dimensions: list[list[str]] | None = None,
    namespace: Any = "ShopApp",
    **members: Any,
) -> dict[str, Any]:
    """Return an EMF document as Powertools prints it: one directive, then the target members."""
    directive = {
        "Namespace": namespace,
        "Dimensions": [["service"]] if dimensions is None else dimensions,
        "Metrics": [{"Name": "ItemCreated", "Unit": "Count"}] if metrics is None else metrics,
    }
    root: dict[str, Any] = {"_aws": {"Timestamp": TIMESTAMP_MS, "CloudWatchMetrics": [directive]}}
    root.update({"service": "shop", "ItemCreated": [1.0]})
    root.update(members)
    return root


def line(root: dict[str, Any]) -> str:
    return json.dumps(root)


def entry(text: str, function: str = "shop") -> LogEntry:
    return LogEntry(function=function, request_id="11111111-2222-3333-4444-555555555555", time=0.0, text=text)


def scrape(emf: EmfMetrics) -> Samples:
    class Registry:
        def collect(self) -> Any:
            return emf.collect()

    samples: Samples = {}
    for family in text_string_to_metric_families(generate_latest(Registry()).decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


# Parsing valid documents

def test_parse_powertools_document() -> None:
    found = parse_document(line(document()))

    assert found == [MetricValues("ShopApp", "ItemCreated", "Count", (("service", "shop"),), (1.0,))]


def test_parse_spec_example_with_single_number() -> None:
    root = {
        "_aws": {
            "Timestamp": 1574109732004,
            "CloudWatchMetrics": [{
                "Namespace": "lambda-function-metrics",
                "Dimensions": [["functionVersion"]],
                "Metrics": [{"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}],
            }],
        },
        "functionVersion": "$LATEST",
        "time": 100,
        "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
    }

    found = parse_document(line(root))

    assert found == [
        MetricValues("lambda-function-metrics", "time", "Milliseconds", (("functionVersion", "$LATEST"),), (100.0,))
    ]


def test_parse_each_dimension_set_gives_own_values() -> None:
    root = document(dimensions=[["service"], ["service", "region"], []], region="eu-west-1", ItemCreated=[1, 2, 3])

    found = parse_document(line(root))

    assert [values.dimensions for values in found] == [
        (("service", "shop"),),
        (("service", "shop"), ("region", "eu-west-1")),
        (),
    ]
    assert all(values.values == (1.0, 2.0, 3.0) for values in found)


def test_parse_several_directives_and_metrics() -> None:
    root = document(metrics=[{"Name": "ItemCreated", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds",
                                                                      "StorageResolution": 1}],
                    Latency=12.5)
    root["_aws"]["CloudWatchMetrics"].append({"Namespace": "Other", "Dimensions": [[]], "Metrics": [{"Name": "Size"}]})
    root["Size"] = 4096

    found = parse_document(line(root))

    assert [(values.namespace, values.name, values.unit, values.values) for values in found] == [
        ("ShopApp", "ItemCreated", "Count", (1.0,)),
        ("ShopApp", "Latency", "Milliseconds", (12.5,)),
        ("Other", "Size", "None", (4096.0,)),
    ]


def test_parse_limits_at_maximum_accepted() -> None:
    keys = [f"key{i}" for i in range(30)]
    root = document(dimensions=[keys], ItemCreated=list(range(100)), **{key: "v" for key in keys})

    [found] = parse_document(line(root))

    assert len(found.dimensions) == 30
    assert len(found.values) == 100


def test_parse_duplicate_dimension_set_counted_once() -> None:
    root = document(dimensions=[["service", "region"], ["service", "region"], ["region", "service"]], region="eu")

    found = parse_document(line(root))

    assert len(found) == 1


# Documents CloudWatch rejects

def without_timestamp() -> dict[str, Any]:
    root = document()
    del root["_aws"]["Timestamp"]
    return root


INVALID_DOCUMENTS: dict[str, tuple[str, str]] = {
    "not json": ('{"_aws": {"CloudWatchMetrics": [', "not a JSON object"),
    "json array": ('[{"_aws": {}}]', "not an object"),
    "_aws missing": (line({"ItemCreated": 1, "note": "_aws"}), "_aws: expected an object"),
    "_aws not object": (line({"_aws": [1]}), "_aws: expected an object"),
    "timestamp missing": (line(without_timestamp()), "_aws.Timestamp"),
    "timestamp string": (line({**document(), "_aws": {"Timestamp": "now", "CloudWatchMetrics": []}}), "_aws.Timestamp"),
    "directives not array": (line({"_aws": {"Timestamp": 1, "CloudWatchMetrics": {}}}), "CloudWatchMetrics"),
    "namespace number": (line(document(namespace=7)), "Namespace"),
    "namespace empty": (line(document(namespace="")), "Namespace"),
    "no dimension sets": (line(document(dimensions=[])), "Dimensions"),
    "dimension set not array": (line(document(dimensions=["service"])), "Dimensions[0]"),
    "31 dimension keys": (line(document(dimensions=[[f"k{i}" for i in range(31)]],
                                       **{f"k{i}": "v" for i in range(31)})), "at most 30 dimension keys"),
    "dimension missing": (line(document(dimensions=[["region"]])), "dimension 'region'"),
    "dimension number": (line(document(service=3)), "dimension 'service'"),
    "dimension value too long": (line(document(service="x" * 1025)), "at most 1024 characters"),
    "metric missing": (line(document(metrics=[{"Name": "Missing"}])), "metric 'Missing'"),
    "metric string": (line(document(ItemCreated="1")), "metric 'ItemCreated'"),
    "metric boolean": (line(document(ItemCreated=True)), "metric 'ItemCreated'"),
    "metric array of strings": (line(document(ItemCreated=[1, "2"])), "only numbers"),
    "metric empty array": (line(document(ItemCreated=[])), "metric 'ItemCreated'"),
    "101 values": (line(document(ItemCreated=list(range(101)))), "at most 100 values"),
    "nested target": (line(document(metrics=[{"Name": "a.b"}], a={"b": 1})), "metric 'a.b'"),
    "101 metric definitions": (line(document(metrics=[{"Name": f"m{i}"} for i in range(101)],
                                            **{f"m{i}": 1 for i in range(101)})), "at most 100 metric definitions"),
    "metric name missing": (line(document(metrics=[{"Unit": "Count"}])), "Name"),
    "unknown unit": (line(document(metrics=[{"Name": "ItemCreated", "Unit": "Items"}])), "Unit"),
    "resolution 30": (line(document(metrics=[{"Name": "ItemCreated", "StorageResolution": 30}])), "StorageResolution"),
    "too large": (line(document(padding="x" * 256 * 1024)), "larger than"),
}


@pytest.mark.parametrize("case", INVALID_DOCUMENTS)
def test_parse_rejects_invalid_document(case: str) -> None:
    text, reason = INVALID_DOCUMENTS[case]

    with pytest.raises(InvalidDocument) as raised:
        parse_document(text)

    assert reason in str(raised.value)


def test_parse_one_bad_directive_rejects_document() -> None:
    root = document()
    root["_aws"]["CloudWatchMetrics"].append({"Namespace": "Other", "Dimensions": [[]], "Metrics": [{"Name": "Gone"}]})

    with pytest.raises(InvalidDocument):
        parse_document(line(root))


# Finding documents in a log

def test_find_documents_among_other_lines() -> None:
    emf = line(document())
    text = "\n".join([
        "START RequestId: 1 Version: $LATEST",
        "plain text that mentions \"_aws\" in quotes",
        '{"message": "structured log without metrics"}',
        emf,
        f"[INFO]\t2024-01-01T00:00:00.000Z\t1\t{emf}",
        "END RequestId: 1",
    ])

    assert list(find_documents(text)) == [emf, emf]


# Prometheus names

def test_family_name_is_sanitised() -> None:
    assert family_name("ShopApp", "ItemCreated") == "squall_emf_shopapp_itemcreated"
    assert family_name("lambda-function-metrics", "time") == "squall_emf_lambda_function_metrics_time"
    assert family_name("AWS/My App", "p99 Latency (ms)") == "squall_emf_aws_my_app_p99_latency_ms"


@pytest.mark.parametrize(("key", "label"), [
    ("service", "service"),
    ("Operation", "Operation"),
    ("function-version", "function_version"),
    ("1st", "dimension_1st"),
    ("__name__", "dimension___name__"),
    ("function", "dimension_function"),
    ("région", "r_gion"),
])
def test_label_name_is_valid_prometheus_name(key: str, label: str) -> None:
    assert label_name(key) == label


# Totals served on /metrics

def test_observe_counts_values_per_series() -> None:
    emf = EmfMetrics()
    root = document(dimensions=[["service"], []], ItemCreated=[1, 2, 3])

    emf.observe(entry(f"START\n{line(root)}\nEND\n"))
    emf.observe(entry(line(document(ItemCreated=10))))
    samples = scrape(emf)

    name = "squall_emf_shopapp_itemcreated"
    assert value(samples, name + "_count", function="shop", service="shop") == 4
    assert value(samples, name + "_sum", function="shop", service="shop") == 16
    assert value(samples, name + "_count", function="shop") == 3
    assert value(samples, name + "_sum", function="shop") == 6


def test_observe_help_names_unit() -> None:
    emf = EmfMetrics()
    emf.observe(entry(line(document(metrics=[{"Name": "Latency", "Unit": "Milliseconds"}], Latency=5))))

    [family] = [metric for metric in emf.collect() if metric.name == "squall_emf_shopapp_latency"]

    assert family.type == "summary"
    assert "unit Milliseconds" in family.documentation
    assert "Latency in namespace ShopApp" in family.documentation


def test_observe_label_values_escaped() -> None:
    emf = EmfMetrics()
    emf.observe(entry(line(document(service='say "hi"\\\nbye'))))

    text = generate_latest(type("Registry", (), {"collect": lambda self: emf.collect()})()).decode()

    assert 'service="say \\"hi\\"\\\\\\nbye"' in text
    assert value(scrape(emf), "squall_emf_shopapp_itemcreated_count", function="shop", service='say "hi"\\\nbye') == 1


def test_observe_dimension_order_does_not_matter() -> None:
    emf = EmfMetrics()
    emf.observe(entry(line(document(dimensions=[["service", "region"]], region="eu"))))
    emf.observe(entry(line(document(dimensions=[["region", "service"]], region="eu"))))

    samples = scrape(emf)

    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="shop", service="shop", region="eu") == 2


def test_observe_invalid_documents_counted_and_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    emf = EmfMetrics()
    bad = line(document(ItemCreated=list(range(101))))

    with caplog.at_level(logging.WARNING, logger="squall.observability.emf"):
        for _ in range(3):
            emf.observe(entry(f"{bad}\n{{\"_aws\": not json\n{line(document())}\n"))
    samples = scrape(emf)

    assert value(samples, "squall_emf_invalid_documents_total", function="shop") == 6
    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="shop", service="shop") == 3
    warnings = [record for record in caplog.records if "invalid EMF document" in record.getMessage()]
    assert len(warnings) == 1
    assert "at most 100 values" in warnings[0].getMessage()


def test_observe_series_limit_drops_new_series(caplog: pytest.LogCaptureFixture) -> None:
    emf = EmfMetrics(max_series=5)

    with caplog.at_level(logging.WARNING, logger="squall.observability.emf"):
        for request in range(8):
            emf.observe(entry(line(document(dimensions=[["requestId"]], requestId=str(request), ItemCreated=[1, 1]))))
        # A series that exists keeps counting past the limit.
        emf.observe(entry(line(document(dimensions=[["requestId"]], requestId="0"))))
    samples = scrape(emf)

    counts = [sample for (name, _), sample in samples.items() if name == "squall_emf_shopapp_itemcreated_count"]
    assert len(counts) == 5
    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="shop", requestId="0") == 3
    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="shop", requestId="7") is None
    assert value(samples, "squall_emf_dropped_values_total", function="shop") == 6
    assert len([record for record in caplog.records if "reached 5 series" in record.getMessage()]) == 1


def test_observe_functions_get_own_series() -> None:
    emf = EmfMetrics()
    emf.observe(entry(line(document()), function="orders"))
    emf.observe(entry(line(document()), function="billing"))

    samples = scrape(emf)

    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="orders", service="shop") == 1
    assert value(samples, "squall_emf_shopapp_itemcreated_count", function="billing", service="shop") == 1


def test_observe_keeps_units_apart(caplog: pytest.LogCaptureFixture) -> None:
    emf = EmfMetrics()
    milliseconds = document(metrics=[{"Name": "Lat", "Unit": "Milliseconds"}], dimensions=[[]], Lat=1500)
    seconds = document(metrics=[{"Name": "Lat", "Unit": "Seconds"}], dimensions=[[]], Lat=2)
    dotted = document(metrics=[{"Name": "Item.Created", "Unit": "Count"}], dimensions=[[]], **{"Item.Created": 5})
    underscored = document(metrics=[{"Name": "Item_Created", "Unit": "Count"}], dimensions=[[]], Item_Created=7)

    with caplog.at_level("WARNING"):
        for root in (milliseconds, seconds, dotted):
            emf.observe(entry(line(root)))
        emf.observe(entry(line(underscored), function="other"))
    samples = scrape(emf)

    # The first metric of a name keeps it; values that CloudWatch keeps apart are never added together.
    assert value(samples, "squall_emf_shopapp_lat_sum", function="shop") == 1500
    assert value(samples, "squall_emf_shopapp_lat_count", function="shop") == 1
    assert value(samples, "squall_emf_shopapp_item_created_sum", function="shop") == 5
    assert value(samples, "squall_emf_shopapp_item_created_sum", function="other") is None
    assert "metric 'Lat' of namespace 'ShopApp' with unit Seconds maps to the Prometheus name" in caplog.text
    assert "metric 'Item_Created' of namespace 'ShopApp' with unit Count" in caplog.text


def test_observe_skips_reserved_names() -> None:
    emf = EmfMetrics()
    colliding = document(namespace="Invalid", metrics=[{"Name": "Documents", "Unit": "Count"}], dimensions=[[]], Documents=1)

    emf.observe(entry(line(colliding)))
    text = generate_latest(type("Registry", (), {"collect": lambda self: emf.collect()})()).decode()

    assert text.count("# TYPE squall_emf_invalid_documents") == 1
    assert "squall_emf_invalid_documents_sum" not in text
