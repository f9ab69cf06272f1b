"""Formatting for the `squall` command line: durations, numbers and tables.

Everything here is pure: it takes the JSON the server returned and builds text
or rich renderables, so the commands in `squall.cli` stay about HTTP and flow.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import click
from rich.console import Console
from rich.table import Table

UNBOUNDED_WIDTH = 100_000
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_FORMS = "a whole number followed by s, m, h or d, such as 30s, 10m, 2h, 1d or 1h30m"
MISSING = "-"

_DURATION_PART = re.compile(r"(\d+)([smhd])")
_DURATION_WHOLE = re.compile(r"(?:\d+[smhd])+")


def parse_duration(text: str) -> int:
    """Parse a duration such as "30s", "10m", "2h", "1d" or "1h30m" into seconds.

    Raises ValueError with a message that quotes `text` and lists the valid forms.
    """
    cleaned = text.strip().lower()
    if not _DURATION_WHOLE.fullmatch(cleaned):
        raise ValueError(f"invalid duration {text!r}: expected {DURATION_FORMS}")

    seconds = sum(int(count) * DURATION_UNITS_S[unit] for count, unit in _DURATION_PART.findall(cleaned))
    if seconds == 0:
        raise ValueError(f"invalid duration {text!r}: it must be longer than zero, such as 30s or 10m")
    return seconds


def parse_time_point(text: str, now: float) -> float:
    """Parse a point in time into Unix seconds: a duration before `now` ("2h") or an ISO 8601 time.

    A time without a UTC offset, such as "2024-05-01T14:00", is local time.
    Raises ValueError naming `text` and the valid forms.
    """
    try:
        return now - parse_duration(text)
    except ValueError:
        if _DURATION_WHOLE.fullmatch(text.strip().lower()):
            raise ValueError(f"invalid time {text!r}: a duration before now must be longer than zero, such as 30s or 10m") from None
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: expected a duration before now ({DURATION_FORMS})"
            " or an ISO 8601 time such as 2024-05-01T14:00 or 2024-05-01T14:00:00+00:00"
        ) from None
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError) as error:
        if moment.tzinfo is None:
            # Python cannot convert a local time early in year 1 ("year 0 is out of range"),
            # so such a time takes the local offset of today.
            try:
                return moment.replace(tzinfo=datetime.datetime.now().astimezone().tzinfo).timestamp()
            except (OverflowError, OSError, ValueError):
                pass
        raise ValueError(
            f"invalid time {text!r}: {error}; expected a time such as 2024-05-01T14:00 or 2024-05-01T14:00:00+00:00"
        ) from None


def format_significant(value: float, digits: int = 3) -> str:
    """Format a number with two decimals, or with `digits` significant digits when it is below 1.

    Costs and GB-seconds of a few invocations are tiny (a 128 MB call of 1 ms is
    0.000125 GB-s), so two decimals alone would print them as zero, and a
    column mixing 0.01 and 0.00137 would hide that the first is 0.0134.
    """
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return f"{value:,.2f}"
    # Round first, so that 0.9996 reads 1.00 and 0.009996 reads 0.0100.
    rounded = float(f"{value:.{digits - 1}e}")
    if abs(rounded) >= 1:
        return f"{value:,.2f}"
    magnitude = math.floor(math.log10(abs(rounded)))
    return f"{rounded:.{digits - 1 - magnitude}f}"


def format_usd(amount: float) -> str:
    """Format an amount of US dollars in cents, or with its significant digits when it is below a cent."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0"
    if not math.isfinite(amount) or round(amount, 2) >= 0.01:
        return f"{sign}${amount:,.2f}"
    return f"{sign}$" + format_significant(amount)


def format_usd_column(amounts: Sequence[float]) -> list[str]:
    """Format the amounts of one table column: in cents, unless one of them is below a cent.

    Then every amount of the column shows its significant digits, so that a
    total of $0.00687 does not read $0.01 beside rows of $0.00337 and $0.00250.
    """
    if not any(0 < abs(amount) and math.isfinite(amount) and round(abs(amount), 2) < 0.01 for amount in amounts):
        return [format_usd(amount) for amount in amounts]
    return [_format_usd_significant(amount) for amount in amounts]


def _format_usd_significant(amount: float) -> str:
    if amount == 0 or not math.isfinite(amount):
        return format_usd(amount)
    return ("-" if amount < 0 else "") + "$" + format_significant(abs(amount))


def format_exact(value: float) -> str:
    """Format a number in fixed point with every digit of its shortest repr (1.66667e-05 -> 0.0000166667)."""
    return format(Decimal(repr(value)), "f")


def format_ms(value: float | None) -> str:
    """Format a latency in milliseconds, or MISSING when the server had no samples."""
    if value is None:
        return MISSING
    # Two decimals keep latencies below 1 ms distinguishable.
    return f"{value:,.2f}"


def format_payload(body: bytes) -> str:
    """Return a response payload as indented JSON when it parses, else as text.

    Numbers keep the digits the function wrote (0.30000000000000000000000000000000000002
    stays as it is), as `aws lambda invoke` writes the payload byte for byte.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        # Each fraction or exponent number is kept as a marked string, put back as written below.
        parsed = json.loads(text, parse_float=_mark_number)
    except json.JSONDecodeError:
        return text
    return _MARKED_NUMBER.sub(_unmark_number, json.dumps(parsed, indent=2, ensure_ascii=False))


# NUL, a fixed word and a random part: no string in a payload passes for a marked number.
_NUMBER_MARK = f"\x00squall-number-{os.urandom(6).hex()}\x00"
_MARKED_NUMBER = re.compile(
    re.escape(json.dumps(_NUMBER_MARK)[:-1]) + r"([-+.0-9eE]+)" + re.escape(json.dumps(_NUMBER_MARK)[1:])
)


def _mark_number(text: str) -> str:
    return f"{_NUMBER_MARK}{text}{_NUMBER_MARK}"


def _unmark_number(match: re.Match[str]) -> str:
    return match.group(1)


def format_function_error(body: bytes) -> str:
    """Format the error a function raised ({"errorType", "errorMessage", "stackTrace"?}) for a terminal.

    The stack trace comes first and the error type and message last, in the
    order Python prints a traceback. A body that is not this shape is shown as is.
    """
    try:
        error = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        error = None
    if not isinstance(error, dict):
        return "the function failed: " + body.decode("utf-8", errors="replace")

    lines: list[str] = []
    stack_trace = error.get("stackTrace")
    if isinstance(stack_trace, list) and stack_trace:
        lines.append("Traceback (most recent call last):")
        # Lambda sends each frame as one string that may span lines and end in "\n".
        lines.extend(str(frame).rstrip("\n") for frame in stack_trace)
    elif isinstance(stack_trace, str) and stack_trace:
        lines.append(stack_trace.rstrip("\n"))

    error_type = error.get("errorType") or "Error"
    error_message = error.get("errorMessage")
    lines.append(f"{error_type}: {error_message}" if error_message else str(error_type))
    return "\n".join(lines)


def print_table(table: Table) -> None:
    """Print a table to stdout at its natural width, even when that is wider than the terminal.

    Rich would shrink the columns to the terminal width and cut numbers with an
    ellipsis. A wider table is printed in full and the terminal wraps its lines.
    """
    # Created per call so that rich writes to the sys.stdout of the moment, which click's test runner replaces.
    console = Console(highlight=False)
    natural_width = console.measure(table, options=console.options.update_width(UNBOUNDED_WIDTH)).maximum
    if natural_width > console.width:
        console = Console(highlight=False, width=natural_width)
    console.print(table)


def plain_table(*columns: str) -> Table:
    """Return a table without borders, with upper-case column names, in the style of `squall ls`."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column.upper())
    return table


def functions_table(functions: Sequence[Mapping[str, Any]]) -> Table:
    """Build the `squall ls` table from the "functions" list of GET /_squall/api/functions."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NAME", no_wrap=True)
    table.add_column("SERVICE", no_wrap=True)
    table.add_column("HANDLER", overflow="fold")
    table.add_column("MEMORY", justify="right", no_wrap=True)
    table.add_column("TIMEOUT", justify="right", no_wrap=True)
    table.add_column("RESERVED", justify="right", no_wrap=True)
    table.add_column("PROVISIONED", justify="right", no_wrap=True)
    table.add_column("IDLE/BUSY", justify="right", no_wrap=True)
    table.add_column("EVENTS", overflow="fold")

    for function in functions:
        reserved = function.get("reserved_concurrency")
        instances = function.get("instances") or {}
        routes = [
            *(function.get("routes") or []),
            *(function.get("triggers") or []),
            *(function.get("destinations") or []),
        ]
        name = str(function.get("name", ""))
        if function.get("aws_name"):
            # The name AWS would deploy it under, which the Invoke API also takes.
            name += f"\n{function['aws_name']}"
        table.add_row(
            name,
            str(function.get("service", MISSING)),
            str(function.get("handler", "")),
            f"{function.get('memory_mb', MISSING)} MB",
            f"{function.get('timeout_s', MISSING)} s",
            MISSING if reserved is None else str(reserved),
            _provisioned(function.get("provisioned", 0), instances.get("provisioned_ready")),
            _instances(instances),
            "\n".join(routes) if routes else MISSING,
        )
    return table


def _instances(instances: Mapping[str, Any]) -> str:
    """Show idle and busy instances as "2/1", and the calls queued for one as "0/1 +3 queued"."""
    idle_busy = f"{instances.get('idle', 0)}/{instances.get('busy', 0)}"
    waiting = instances.get("waiting") or 0
    return f"{idle_busy} +{waiting} queued" if waiting else idle_busy


def _provisioned(configured: int, ready: int | None) -> str:
    """Show the provisioned instances as "2", or "1 of 2 ready" while some could not start."""
    if ready is None or ready >= configured:
        return str(configured)
    return f"{ready} of {configured} ready"


def stats_table(stats: Mapping[str, Any]) -> Table:
    """Build the `squall stats` table from GET /_squall/api/stats, with a footer row of totals."""
    functions: Sequence[Mapping[str, Any]] = stats.get("functions") or []

    totals = {
        key: sum(function.get(key) or 0 for function in functions)
        for key in ("invocations", "errors", "throttles", "cold_starts", "gb_seconds", "cost_usd")
    }

    *costs, total_cost = format_usd_column([function.get("cost_usd") or 0.0 for function in functions]
                                           + [totals["cost_usd"]])

    table = Table(box=None, pad_edge=False, header_style="bold", show_footer=len(functions) > 1, footer_style="bold")
    table.add_column("FUNCTION", footer="total", no_wrap=True)
    table.add_column("INVOCATIONS", footer=f"{totals['invocations']:,}", justify="right", no_wrap=True)
    table.add_column("ERRORS", footer=f"{totals['errors']:,}", justify="right", no_wrap=True)
    table.add_column("THROTTLES", footer=f"{totals['throttles']:,}", justify="right", no_wrap=True)
    table.add_column("COLD STARTS", footer=f"{totals['cold_starts']:,}", justify="right", no_wrap=True)
    table.add_column("P50 MS", justify="right", no_wrap=True)
    table.add_column("P95 MS", justify="right", no_wrap=True)
    table.add_column("P99 MS", justify="right", no_wrap=True)
    table.add_column("GB-S", footer=format_significant(totals["gb_seconds"]), justify="right", no_wrap=True)
    table.add_column("COST USD", footer=total_cost, justify="right", no_wrap=True)
    table.add_column("LAST HOUR", no_wrap=True)

    for function, cost in zip(functions, costs):
        table.add_row(
            str(function.get("name", "")),
            f"{function.get('invocations', 0):,}",
            f"{function.get('errors', 0):,}",
            f"{function.get('throttles', 0):,}",
            f"{function.get('cold_starts', 0):,}",
            format_ms(function.get("p50_ms")),
            format_ms(function.get("p95_ms")),
            format_ms(function.get("p99_ms")),
            format_significant(function.get("gb_seconds") or 0.0),
            cost,
            sparkline(function.get("trend") or []),
        )
    return table


SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def sparkline(counts: Sequence[int]) -> str:
    """Draw counts as a line of block characters scaled to the largest; the lowest block alone means zero."""
    if not counts:
        return MISSING
    largest = max(counts) or 1
    top = len(SPARK_LEVELS) - 1
    return "".join(
        SPARK_LEVELS[0] if count == 0 else SPARK_LEVELS[1 + round(count / largest * (top - 1))] for count in counts
    )


def describe_price(price: Mapping[str, Any], period: str) -> str:
    """Describe the time window and the price table of a stats response, for the line under the table.

    `period` is the window in words, for example "last 1h".
    """
    name = price.get("name", "unknown")
    per_gb_second = price.get("per_gb_second")
    per_request = price.get("per_request")
    rates = []
    if per_gb_second is not None:
        rates.append(f"${format_exact(per_gb_second)} per GB-s")
    if per_request is not None:
        rates.append(f"${format_exact(per_request)} per request")
    rates_text = f" ({', '.join(rates)})" if rates else ""
    return f"{period}; costs use the price table {name!r}{rates_text}"


COST_COLUMNS = ("requests", "gb_seconds", "provisioned_gb_seconds", "cost_usd", "aws_lambda_usd")


def cost_table(report: Mapping[str, Any]) -> Table:
    """Build the `squall cost` table from GET /_squall/api/cost, with a footer row of totals."""
    grouping = str(report.get("by", "function"))
    rows: Sequence[Mapping[str, Any]] = report.get("rows") or []
    total: Mapping[str, Any] = report.get("total") or {}

    table = Table(box=None, pad_edge=False, header_style="bold", show_footer=len(rows) > 1, footer_style="bold")
    table.add_column(grouping.upper(), footer="total", no_wrap=True)
    table.add_column("REQUESTS", footer=f"{total.get('requests', 0):,}", justify="right", no_wrap=True)
    table.add_column("GB-S", footer=format_significant(total.get("gb_seconds") or 0.0), justify="right", no_wrap=True)
    table.add_column(
        "PROVISIONED GB-S",
        footer=format_significant(total.get("provisioned_gb_seconds") or 0.0),
        justify="right",
        no_wrap=True,
    )
    *costs, total_cost = format_usd_column([row.get("cost_usd") or 0.0 for row in rows] + [total.get("cost_usd") or 0.0])
    *aws_costs, total_aws_cost = format_usd_column(
        [row.get("aws_lambda_usd") or 0.0 for row in rows] + [total.get("aws_lambda_usd") or 0.0]
    )
    table.add_column("COST USD", footer=total_cost, justify="right", no_wrap=True)
    table.add_column("AWS LAMBDA USD", footer=total_aws_cost, justify="right", no_wrap=True)

    for row, cost, aws_cost in zip(rows, costs, aws_costs):
        table.add_row(
            str(row.get(grouping, "")),
            f"{row.get('requests', 0):,}",
            format_significant(row.get("gb_seconds") or 0.0),
            format_significant(row.get("provisioned_gb_seconds") or 0.0),
            cost,
            aws_cost,
        )
    return table


def cost_csv(report: Mapping[str, Any]) -> str:
    """Write the rows of a cost report as CSV with a header line and full-precision numbers.

    Numbers are written in plain decimal notation (0.0000101, never 1.01e-05),
    which every spreadsheet reads as a number.
    """
    grouping = str(report.get("by", "function"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([grouping, *COST_COLUMNS])
    for row in report.get("rows") or []:
        writer.writerow([row.get(grouping, ""), *(_plain_number(row.get(column, 0)) for column in COST_COLUMNS)])
    return buffer.getvalue()


def _plain_number(value: Any) -> Any:
    if not isinstance(value, float):
        return value
    text = f"{value:.15f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def describe_cost_prices(report: Mapping[str, Any], period: str) -> str:
    """Describe the window and both price tables of a cost report, for the line under the table."""
    price: Mapping[str, Any] = report.get("price") or {}
    name = price.get("name", "unknown")
    rates = []
    for key, unit in (
        ("per_gb_second", "per GB-s"),
        ("per_request", "per request"),
        ("per_provisioned_gb_second", "per provisioned GB-s"),
    ):
        if price.get(key) is not None:
            rates.append(f"${format_exact(price[key])} {unit}")
    rates_text = f" ({', '.join(rates)})" if rates else ""
    return (
        f"{period}; COST USD uses the price table {name!r}{rates_text}; AWS LAMBDA USD is the"
        " x86 us-east-1 price of the same usage, without the free tier"
    )


OUTPUT_FORMATS = ("table", "json")


def output_option(
    help_text: str, formats: Sequence[str] = OUTPUT_FORMATS, default: str = "table"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add `--output FORMAT` to a command, passed to it as `output`."""
    return click.option(
        "--output",
        type=click.Choice(list(formats)),
        default=default,
        show_default=True,
        help=help_text,
    )


def print_json_document(value: Any) -> None:
    """Print `value` as one indented JSON document, for `--output json` of a command that returns one result."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_json_line(value: Any) -> None:
    """Print `value` as one JSON object on one line, for `--output json` of a command that prints results one by one."""
    click.echo(json.dumps(value, ensure_ascii=False))


_VISIBLE_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def escape_line_breaks(text: str) -> str:
    """Write line breaks and tabs as \\n, \\r and \\t, so user data stays on one table row.

    Backslashes are doubled, so that data containing a backslash and an "n"
    reads differently from data containing a line break.
    """
    return text.translate(_VISIBLE_ESCAPES)


def region_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check a `--region` option (or SQUALL_REGION): raise click.BadParameter unless it is shaped like an AWS region."""
    # Imported here, because the client commands do not need the manifest package.
    from squall.manifest.serverless_variables import check_region

    try:
        return check_region(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None
