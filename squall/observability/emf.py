"""Metrics that functions print in CloudWatch's embedded metric format (EMF).

On Lambda, CloudWatch Logs extracts metrics from every log line that is an
EMF document: a JSON object whose `_aws.CloudWatchMetrics` directives name
a namespace, dimension sets and metrics whose values are other members of
the same object. Powertools' `Metrics` and aws-embedded-metrics print one
such line per flush. Squall extracts them from each invocation's log and
serves them with its other Prometheus metrics.

The rules come from "Specification: Embedded metric format" in the Amazon
CloudWatch User Guide (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html). A dimension set has
at most 30 keys, and each dimension value is a string of at most 1024
characters. A directive has at most 100 metric definitions, and a metric
value is a number or an array of at most 100 numbers. A document is at most
256 KB. Squall extracts nothing from a document that breaks one of these
rules, as CloudWatch extracts no metrics from an invalid document.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, Metric

from squall.metering.records import LogEntry

logger = logging.getLogger(__name__)

# Every EMF document contains this member name, so a log without it is not parsed.
EMF_MARKER = '"_aws"'

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DIMENSION_KEYS = 30
MAX_DIMENSION_KEY_CHARS = 250
MAX_DIMENSION_VALUE_CHARS = 1024
MAX_NAME_CHARS = 1024  # of a namespace or a metric name
MAX_METRIC_DEFINITIONS = 100
MAX_VALUES = 100
# The units of the specification's JSON schema; a document without a Unit has "None".
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
})
# High resolution (1 s) and standard resolution (60 s), the two CloudWatch stores.
STORAGE_RESOLUTIONS = frozenset({1, 60})

# A scrape returns at most this many EMF series, so a function that prints
# high-cardinality dimensions (a request id, a user id) cannot exhaust the
# server's memory. Values of series past the limit are counted and dropped.
MAX_SERIES = 1000
WARNING_INTERVAL_S = 60.0
FAMILY_PREFIX = "squall_emf_"


class InvalidDocument(ValueError):
    """Raised for a log line that contains `"_aws"` but is not a valid EMF document."""


@dataclass(frozen=True, slots=True)
class MetricValues:
    """The values of one metric for one dimension set of an EMF document."""

    namespace: str
    name: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]  # (key, value) in the dimension set's order
    values: tuple[float, ...]


# Parsing

def find_documents(text: str) -> Iterator[str]:
    """Yield the lines of a log that may be EMF documents, without what Lambda writes before them.

    A candidate is a line with `"_aws"` that starts with `{`. The
    specification also accepts a document after the metadata Lambda may put
    in front of a line, such as `[INFO]\\t<time>\\t<request id>\\t` from the
    Python runtime's logging handler, so a line is also read from its first
    tab followed by `{`. Other lines are plain text and not documents.
    """
    # Split at "\n" only: str.splitlines would also split at a U+2028 inside a JSON string.
    for line in text.split("\n"):
        if EMF_MARKER not in line:
            continue
        if line.startswith("{"):
            yield line
            continue
        start = line.find("\t{")
        if start >= 0:
            yield line[start + 1:]


def parse_document(document: str) -> list[MetricValues]:
    """Return the metric values of one EMF document, or raise InvalidDocument when CloudWatch would reject it."""
    if len(document.encode()) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        root = orjson.loads(document)
    except orjson.JSONDecodeError as error:
        raise InvalidDocument(f"the line is not a JSON object: {error}") from None
    if not isinstance(root, dict):
        raise InvalidDocument("the line is JSON but not an object")

    metadata = root.get("_aws")
    if not isinstance(metadata, dict):
        raise InvalidDocument(f"_aws: expected an object, got {_json_type(metadata)}")
    if not _is_number(metadata.get("Timestamp")):
        raise InvalidDocument(f"_aws.Timestamp: expected milliseconds since 1970 as a number, "
                              f"got {_json_type(metadata.get('Timestamp'))}")
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise InvalidDocument(f"_aws.CloudWatchMetrics: expected an array, got {_json_type(directives)}")

    found: list[MetricValues] = []
    for index, directive in enumerate(directives):
        found.extend(_parse_directive(root, directive, f"_aws.CloudWatchMetrics[{index}]"))
    return found


def _parse_directive(root: dict[str, Any], directive: Any, where: str) -> list[MetricValues]:
    if not isinstance(directive, dict):
        raise InvalidDocument(f"{where}: expected an object, got {_json_type(directive)}")
    namespace = _name(directive.get("Namespace"), f"{where}.Namespace", MAX_NAME_CHARS)

    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list) or not dimension_sets:
        raise InvalidDocument(f"{where}.Dimensions: expected an array of dimension sets with at least one set, "
                              f"got {_json_type(dimension_sets)}")
    resolved: list[tuple[tuple[str, str], ...]] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, dimension_set in enumerate(dimension_sets):
        dimensions = _resolve_dimension_set(root, dimension_set, f"{where}.Dimensions[{index}]")
        # The same set twice, in any key order, would count each value twice.
        identity = tuple(sorted(dimensions))
        if identity not in seen:
            seen.add(identity)
            resolved.append(dimensions)

    definitions = directive.get("Metrics")
    if not isinstance(definitions, list):
        raise InvalidDocument(f"{where}.Metrics: expected an array, got {_json_type(definitions)}")
    if len(definitions) > MAX_METRIC_DEFINITIONS:
        raise InvalidDocument(f"{where}.Metrics: expected at most {MAX_METRIC_DEFINITIONS} metric definitions, "
                              f"got {len(definitions)}")
    metrics = [_parse_definition(root, definition, f"{where}.Metrics[{index}]")
               for index, definition in enumerate(definitions)]

    # CloudWatch creates one metric per dimension set, each with every value.
    return [
        MetricValues(namespace, name, unit, dimensions, values)
        for dimensions in resolved
        for name, unit, values in metrics
    ]


def _resolve_dimension_set(root: dict[str, Any], keys: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(keys, list):
        raise InvalidDocument(f"{where}: expected an array of dimension keys, got {_json_type(keys)}")
    if len(keys) > MAX_DIMENSION_KEYS:
        raise InvalidDocument(f"{where}: expected at most {MAX_DIMENSION_KEYS} dimension keys, got {len(keys)}")
    dimensions: list[tuple[str, str]] = []
    for key in keys:
        _name(key, where, MAX_DIMENSION_KEY_CHARS)
        value = root.get(key)
        if not isinstance(value, str):
            raise InvalidDocument(f"dimension {key!r}: expected a string member of the root object, "
                                  f"got {_json_type(value)}")
        if len(value) > MAX_DIMENSION_VALUE_CHARS:
            raise InvalidDocument(f"dimension {key!r}: expected at most {MAX_DIMENSION_VALUE_CHARS} characters, "
                                  f"got {len(value)}")
        dimensions.append((key, value))
    return tuple(dimensions)


def _parse_definition(root: dict[str, Any], definition: Any, where: str) -> tuple[str, str, tuple[float, ...]]:
    if not isinstance(definition, dict):
        raise InvalidDocument(f"{where}: expected an object, got {_json_type(definition)}")
    name = _name(definition.get("Name"), f"{where}.Name", MAX_NAME_CHARS)
    unit = definition.get("Unit", "None")
    if unit not in UNITS:
        raise InvalidDocument(f"{where}.Unit: expected a CloudWatch unit such as Count or Milliseconds, got {unit!r}")
    resolution = definition.get("StorageResolution", 60)
    if type(resolution) is not int or resolution not in STORAGE_RESOLUTIONS:
        raise InvalidDocument(f"{where}.StorageResolution: expected 1 or 60, got {resolution!r}")

    target = root.get(name)
    if _is_number(target):
        return name, unit, (float(target),)
    if not isinstance(target, list) or not target:
        raise InvalidDocument(f"metric {name!r}: expected a number or an array of numbers as a member "
                              f"of the root object, got {_json_type(target)}")
    if len(target) > MAX_VALUES:
        raise InvalidDocument(f"metric {name!r}: expected at most {MAX_VALUES} values, got {len(target)}")
    if not all(_is_number(value) for value in target):
        raise InvalidDocument(f"metric {name!r}: expected only numbers in the array")
    return name, unit, tuple(float(value) for value in target)


def _name(value: Any, where: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidDocument(f"{where}: expected a non-empty string, got {_json_type(value)}")
    if len(value) > max_chars:
        raise InvalidDocument(f"{where}: expected at most {max_chars} characters, got {len(value)}")
    return value


def _is_number(value: Any) -> bool:
    # bool is a subclass of int, and JSON's true is not a number.
    return type(value) in (int, float) and math.isfinite(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null or no member"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# Prometheus names

@functools.lru_cache(maxsize=1024)
def family_name(namespace: str, name: str) -> str:
    """Return the Prometheus metric name for an EMF metric: `squall_emf_<namespace>_<name>`, lowercase."""
    return f"{FAMILY_PREFIX}{_snake(namespace)}_{_snake(name)}"


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "_"


@functools.lru_cache(maxsize=1024)
def label_name(key: str) -> str:
    """Return the Prometheus label name for a dimension key.

    Characters other than letters, digits and `_` become `_`. A key that
    would start with a digit, start with `__` (reserved by Prometheus) or be
    `function` (Squall's own label) gets the prefix `dimension_`.
    """
    label = re.sub(r"[^A-Za-z0-9_]", "_", key)
    if label[0].isdigit() or label.startswith("__") or label == "function":
        label = "dimension_" + label
    return label


# Totals served on GET /metrics

class _Series:
    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0


class _Family:
    __slots__ = ("help", "metric", "series")

    def __init__(self, help_text: str, metric: tuple[str, str, str]) -> None:
        self.help = help_text
        self.metric = metric  # the EMF namespace, metric name and unit the family was made for
        self.series: dict[tuple[tuple[str, str], ...], _Series] = {}


# The names of Squall's own EMF counters, with and without the suffix Prometheus adds.
_RESERVED_FAMILIES = frozenset({
    "squall_emf_invalid_documents", "squall_emf_invalid_documents_total",
    "squall_emf_dropped_values", "squall_emf_dropped_values_total",
})


class EmfMetrics:
    """The EMF metrics of every function, as Prometheus summaries.

    Call `observe` on the event loop for log entries that contain
    EMF_MARKER, and `collect` from the same loop.

    Each EMF metric becomes a summary without quantiles: `_count` is the
    number of values printed and `_sum` their total. CloudWatch keeps EMF
    values as samples and reports their SampleCount, Sum, Minimum, Maximum
    and Average, so `_count` and `_sum` keep the same meaning whatever the
    unit. rate(_sum) is a rate for a Count metric, and `_sum / _count` is
    the average of a latency metric. A gauge of the last value would lose
    all but one value of an array and of each scrape interval.
    """

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self._families: dict[str, _Family] = {}
        self._series_count = 0
        self._invalid: dict[str, int] = {}  # per function
        self._dropped: dict[str, int] = {}  # values past the series limit, per function
        self._warned_at: dict[str, float] = {}  # per function, time.monotonic()
        self._limit_warned = False

    def observe(self, entry: LogEntry) -> None:
        """Add the values of every valid EMF document in a log entry; count and skip invalid ones."""
        for document in find_documents(entry.text):
            try:
                found = parse_document(document)
            except InvalidDocument as error:
                self._invalid[entry.function] = self._invalid.get(entry.function, 0) + 1
                self._warn(entry, error)
                continue
            for values in found:
                self._add(entry.function, values)

    def _add(self, function: str, values: MetricValues) -> None:
        name = family_name(values.namespace, values.name)
        metric = (values.namespace, values.name, values.unit)
        family = self._families.get(name)
        if name in _RESERVED_FAMILIES or (family is not None and family.metric != metric):
            # CloudWatch keeps each name and unit apart, so adding these values to another metric would mix them.
            owner = "Squall's own counter" if family is None else (
                f"metric {family.metric[1]!r} of namespace {family.metric[0]!r} with unit {family.metric[2]}"
            )
            self._warn_once_per_interval(function, "metric %r of namespace %r with unit %s maps to the Prometheus "
                                         "name %s, which %s has; skipping it", values.name, values.namespace,
                                         values.unit, name, owner)
            return
        labels = [("function", function)]
        for key, value in values.dimensions:
            labels.append((label_name(key), value))
        # A dimension set is a set: the order of its keys does not make another metric.
        labels.sort()
        key = tuple(labels)

        series = family.series.get(key) if family is not None else None
        if series is None:
            if len({label for label, _ in key}) < len(key):
                # Two keys that differ only in characters Prometheus rejects, such as "a.b" and "a-b".
                self._warn_once_per_interval(function, "dimension keys of metric %r in namespace %r map to "
                                             "the same Prometheus label; skipping it", values.name, values.namespace)
                return
            if self._series_count >= self.max_series:
                self._dropped[function] = self._dropped.get(function, 0) + len(values.values)
                if not self._limit_warned:
                    self._limit_warned = True
                    logger.warning("EMF metrics reached %d series; values of new series are dropped from now on "
                                   "(first dropped: %s of function %s); see squall_emf_dropped_values_total",
                                   self.max_series, name, function)
                return
            if family is None:
                family = self._families[name] = _Family(
                    f"CloudWatch EMF metric {values.name} in namespace {values.namespace}, unit {values.unit}: "
                    "_count is the number of values printed, _sum their total.",
                    metric,
                )
            series = family.series[key] = _Series()
            self._series_count += 1
        series.count += len(values.values)
        series.total += math.fsum(values.values)

    def _warn(self, entry: LogEntry, error: InvalidDocument) -> None:
        self._warn_once_per_interval(entry.function, "skipping an invalid EMF document in request %s: %s",
                                     entry.request_id, error)

    def _warn_once_per_interval(self, function: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._warned_at.get(function)
        if last is not None and now - last < WARNING_INTERVAL_S:
            return
        self._warned_at[function] = now
        logger.warning("function %s: " + message + " (at most one such warning per function every %d s)",
                       function, *args, WARNING_INTERVAL_S)

    def collect(self) -> Iterator[Metric]:
        """Return a summary family per EMF metric, then the counts of invalid documents and dropped values."""
        families: list[Metric] = []
        # list() copies each dict in one step, so a log entry added meanwhile cannot break the iteration.
        for name, family in list(self._families.items()):
            metric = Metric(name, family.help, "summary")
            for key, series in list(family.series.items()):
                labels = dict(key)
                metric.add_sample(name + "_count", labels, series.count)
                metric.add_sample(name + "_sum", labels, series.total)
            families.append(metric)

        invalid = CounterMetricFamily(
            "squall_emf_invalid_documents", "Log lines with \"_aws\" that are not valid EMF documents, "
            "so no metric was taken from them.", labels=["function"],
        )
        for function, count in list(self._invalid.items()):
            invalid.add_metric([function], count)
        dropped = CounterMetricFamily(
            "squall_emf_dropped_values", f"EMF values dropped because the server already has {self.max_series} "
            "EMF series.", labels=["function"],
        )
        for function, count in list(self._dropped.items()):
            dropped.add_metric([function], count)
        return iter([*families, invalid, dropped])
