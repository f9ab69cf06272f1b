"""The dashboard's HTML: whole pages, and the fragments the page script swaps in on each refresh.

Every value that comes from a manifest, a handler or a store goes through
`html.escape`, because function output and names are not trusted markup.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import orjson

from squall.cli_output import format_usd
from squall.metering.records import Outcome
from squall.observability.metrics import QueueReading

from squall.dashboard.queries import (
    FunctionDetail,
    FunctionRow,
    FunctionStatus,
    Overview,
    RecentInvocation,
    StreamConsumer,
    StreamRow,
    status_counts,
)
from squall.dashboard.series import Window

PREFIX = "/ui"
STATIC = f"{PREFIX}/static"
SIGN_IN_PATH = f"{PREFIX}/login"
SIGN_OUT_PATH = f"{PREFIX}/logout"
REFRESH_S = 5

# Charts by name and caption; the page script defines the lines, colours and axes of each name.
OVERVIEW_CHARTS = (
    ("activity", "Invocations, errors and throttles"),
    ("duration", "Duration p50 and p99 (ms)"),
    ("cost", "Cost (USD)"),
)
FUNCTION_CHARTS = (
    ("activity", "Invocations, errors and throttles"),
    ("duration", "Duration p50 and p99 (ms)"),
    ("cold_starts", "Cold starts"),
    ("cost", "Cost (USD)"),
)


def function_path(name: str, window: Window | None = None) -> str:
    """Return the path of a function's page, showing `window` when it is not the default."""
    path = f"{PREFIX}/functions/{quote(name, safe='')}"
    return path + _window_query(window)


def _window_query(window: Window | None) -> str:
    return "" if window is None or window is Window.HOUR else f"?window={window.value}"


# Whole pages


def overview_page(overview: Overview, data: dict[str, object], sign_out: bool = False) -> str:
    """Render the overview: charts of all functions, the functions table, queues and streams.

    With `sign_out`, the header has a button that ends the browser's sign-in session.
    """
    window = overview.window
    body = (
        _charts(OVERVIEW_CHARTS)
        + _fragment("functions", functions_table(overview.functions, window))
        + _fragment("queues", queues_table(overview.queues))
        + _fragment("streams", streams_section(overview.streams, overview.consumers, window))
        + _fragment("problems", problems_list(overview.problems))
    )
    return _page(
        title="Squall",
        heading=f'Functions <span class="muted" data-fragment="status">{status_summary(overview.functions)}</span>',
        window=window,
        page_path=PREFIX,
        data_path=f"{PREFIX}/data/overview?window={window.value}",
        data=data,
        body=body,
        sign_out=sign_out,
    )


def function_page(detail: FunctionDetail, data: dict[str, object], sign_out: bool = False) -> str:
    """Render one function: its settings and status, its charts and its recent invocations with their logs.

    With `sign_out`, the header has a button that ends the browser's sign-in session.
    """
    name = detail.function.name
    body = (
        _fragment("summary", function_summary(detail.function, detail.consumers, detail.window))
        + _charts(FUNCTION_CHARTS)
        + _fragment("recent", recent_invocations(detail.recent))
    )
    return _page(
        title=f"{name} · Squall",
        heading=f'<a href="{PREFIX}{_window_query(detail.window)}">Functions</a> / {html.escape(name)}',
        window=detail.window,
        page_path=function_path(name),
        data_path=f"{PREFIX}/data/functions/{quote(name, safe='')}?window={detail.window.value}",
        data=data,
        body=body,
        sign_out=sign_out,
    )


def message_page(title: str, message: str) -> str:
    """Render a page that shows a message, such as what was not found, and links back to the overview."""
    return (
        f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)} · Squall</title>"
        f'<link rel="stylesheet" href="{STATIC}/dashboard.css"></head>'
        f"<body><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f'<p><a href="{PREFIX}">All functions</a></p></main></body></html>\n'
    )


def sign_in_page(next_path: str, problem: str | None = None) -> str:
    """Render the form where an operator pastes the server's token to use the dashboard in a browser.

    `next_path` is the dashboard path the browser goes to after signing in, and
    `problem` is the reason the previous attempt failed.
    """
    alert = f'<p class="alert" role="alert">{html.escape(problem)}</p>' if problem else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f'<title>Sign in · Squall</title><link rel="stylesheet" href="{STATIC}/dashboard.css"></head>'
        '<body><main class="sign-in"><h1>Sign in to the Squall dashboard</h1>'
        "<p>This server requires a token. Paste the contents of the <code>token</code> file in the "
        "server&#x27;s data folder: <code>.squall/token</code> by default, or <code>token</code> in the "
        "folder given to <code>squall up --data</code>.</p>"
        f"{alert}"
        f'<form method="post" action="{SIGN_IN_PATH}">'
        f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
        '<label for="token">Token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>'
        '<button type="submit">Sign in</button></form>'
        "<p class=\"muted\">The browser keeps a sign-in cookie for the dashboard only; "
        "scripts and the squall CLI send the token in an <code>Authorization: Bearer</code> header.</p>"
        "</main></body></html>\n"
    )


def _sign_out_form() -> str:
    return (
        f'<form class="sign-out" method="post" action="{SIGN_OUT_PATH}">'
        '<button type="submit">Sign out</button></form>'
    )


def _page(
    *,
    title: str,
    heading: str,
    window: Window,
    page_path: str,
    data_path: str,
    data: dict[str, object],
    body: str,
    sign_out: bool,
) -> str:
    links = []
    for option in Window:
        current = ' aria-current="page"' if option is window else ""
        links.append(f'<a href="{page_path}?window={option.value}"{current}>{option.value}</a>')
    windows = " ".join(links)
    # "</" inside the JSON would end the script element early, so "<" is escaped.
    embedded = orjson.dumps(data).decode().replace("<", "\\u003c")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{STATIC}/uPlot.min.css">
<link rel="stylesheet" href="{STATIC}/dashboard.css">
<noscript><meta http-equiv="refresh" content="{REFRESH_S * 2}"></noscript>
</head>
<body data-source="{html.escape(data_path)}" data-refresh-s="{REFRESH_S}">
<header>
<h1>{heading}</h1>
<nav aria-label="time window">last {windows}</nav>
<p class="updated" id="updated">updated <time>{_clock(_generated_at(data))}</time> UTC</p>
{_sign_out_form() if sign_out else ""}
</header>
<main>
{body}
</main>
<script type="application/json" id="dashboard-data">{embedded}</script>
<script src="{STATIC}/uPlot.iife.min.js"></script>
<script src="{STATIC}/dashboard.js"></script>
</body>
</html>
"""


def _generated_at(data: dict[str, object]) -> float:
    value = data.get("generated_at")
    return float(value) if isinstance(value, (int, float)) else time.time()


def _fragment(name: str, content: str) -> str:
    return f'<section data-fragment="{name}">\n{content}</section>\n'


def _charts(charts: Iterable[tuple[str, str]]) -> str:
    figures = "".join(
        f'<figure class="chart" data-chart="{name}"><figcaption>{html.escape(caption)}</figcaption>'
        '<div class="plot"></div></figure>\n'
        for name, caption in charts
    )
    return f'<section class="charts">\n{figures}</section>\n'


# Fragments


def _provisioned_cost(cost: float) -> str:
    # Without invocations, the cost is that of the provisioned instances alone.
    return f"; its provisioned instances cost {_usd(cost)}" if cost else ""


def functions_table(functions: Sequence[FunctionRow], window: Window) -> str:
    """Render the functions with their routes, triggers, status and statistics over the window."""
    if not functions:
        return "<h2>Functions</h2><p class=\"empty\">No function is deployed yet: run <code>squall deploy</code>.</p>\n"
    rows = []
    for row in functions:
        stats = row.stats
        rows.append(
            "<tr>"
            f'<td><a class="function" href="{function_path(row.name, window)}">{html.escape(row.name)}</a>'
            f'<div class="muted">{html.escape(row.service or "")}</div></td>'
            f"<td>{_list(row.routes + row.triggers)}</td>"
            f"<td>{_status(row.status)}</td>"
            f'<td class="number">{row.busy} / {row.idle}</td>'
            f'<td class="number">{stats.invocations if stats else 0}</td>'
            f'<td class="number{_alert(stats.errors if stats else 0)}">{stats.errors if stats else 0}</td>'
            f'<td class="number{_alert(stats.throttles if stats else 0)}">{stats.throttles if stats else 0}</td>'
            f'<td class="number">{stats.cold_starts if stats else 0}</td>'
            f'<td class="number">{_ms(stats.p50_ms if stats else None)}</td>'
            f'<td class="number">{_ms(stats.p99_ms if stats else None)}</td>'
            f'<td class="number">{_usd(row.cost)}</td>'
            "</tr>"
        )
    return (
        "<h2>Functions</h2>\n<table>\n<thead><tr><th>Function</th><th>Routes and triggers</th><th>Status</th>"
        '<th class="number">Instances busy / idle</th><th class="number">Invocations</th>'
        '<th class="number">Errors</th><th class="number">Throttles</th><th class="number">Cold starts</th>'
        '<th class="number">p50</th><th class="number">p99</th><th class="number">Cost</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
    )


def queues_table(queues: Sequence[QueueReading]) -> str:
    """Render each queue's messages by state and the age of its oldest message."""
    if not queues:
        return "<h2>Queues</h2><p class=\"empty\">No queue exists yet.</p>\n"
    dead_letter_tag = ' <span class="tag">dead-letter queue</span>'
    rows = [
        "<tr>"
        f"<td>{html.escape(queue.name)}{dead_letter_tag if queue.dead_letter_target else ''}</td>"
        f'<td class="number{_alert(queue.depth if queue.dead_letter_target else 0)}">{queue.depth}</td>'
        f'<td class="number">{queue.visible}</td>'
        f'<td class="number">{queue.in_flight}</td>'
        f'<td class="number">{queue.delayed}</td>'
        f'<td class="number">{_age(queue.oldest_age_s)}</td>'
        "</tr>"
        for queue in queues
    ]
    return (
        "<h2>Queues</h2>\n<table>\n<thead><tr><th>Queue</th><th class=\"number\">Depth</th>"
        '<th class="number">Visible</th><th class="number">In flight</th><th class="number">Delayed</th>'
        '<th class="number">Oldest message</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
    )


def streams_section(streams: Sequence[StreamRow], consumers: Sequence[StreamConsumer], window: Window) -> str:
    """Render the streams and, for each shard a trigger reads, its iterator age."""
    parts = ["<h2>Streams</h2>\n"]
    if not streams and not consumers:
        parts.append('<p class="empty">No stream exists and no stream or table-stream trigger has read yet.</p>\n')
        return "".join(parts)
    if streams:
        rows = [
            f'<tr><td>{html.escape(stream.name)}</td><td class="number">{stream.shards}</td>'
            f'<td class="number">{stream.retention_h} h</td></tr>'
            for stream in streams
        ]
        parts.append(
            '<table>\n<thead><tr><th>Stream</th><th class="number">Shards</th><th class="number">Retention</th>'
            "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
        )
    parts.append(consumers_table(consumers, window))
    return "".join(parts)


def consumers_table(consumers: Sequence[StreamConsumer], window: Window) -> str:
    """Render the iterator age of each shard that a stream or table-stream trigger reads."""
    if not consumers:
        return ""
    rows = [
        f'<tr><td><a href="{function_path(consumer.function, window)}">{html.escape(consumer.function)}</a></td>'
        f"<td>{html.escape(consumer.source)}</td><td>{html.escape(consumer.shard)}</td>"
        f'<td class="number">{_age(consumer.iterator_age_s)}</td></tr>'
        for consumer in consumers
    ]
    return (
        "<h3>Stream and table-stream triggers</h3>\n<table>\n<thead><tr><th>Function</th><th>Source</th>"
        '<th>Shard</th><th class="number">Iterator age</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
    )


def problems_list(problems: Sequence[str]) -> str:
    """Render the sections that could not be read, if any."""
    if not problems:
        return ""
    items = "".join(f"<li>{html.escape(problem)}</li>" for problem in problems)
    return f'<ul class="problems">{items}</ul>\n'


def function_summary(row: FunctionRow, consumers: Sequence[StreamConsumer], window: Window) -> str:
    """Render a function's status, settings, routes and triggers."""
    if row.service is None:
        settings = "<p>This function is no longer deployed; its records and logs remain.</p>\n"
    else:
        settings = (
            "<dl>"
            f"<dt>Status</dt><dd>{_status(row.status)} {row.busy} busy, {row.idle} idle</dd>"
            f"<dt>Service</dt><dd>{html.escape(row.service)}</dd>"
            f"<dt>Handler</dt><dd><code>{html.escape(row.handler or '')}</code></dd>"
            f"<dt>Memory</dt><dd>{row.memory_mb} MB</dd>"
            f"<dt>Timeout</dt><dd>{row.timeout_s} s</dd>"
            f"<dt>Routes and triggers</dt><dd>{_list(row.routes + row.triggers) or 'none'}</dd>"
            + (f"<dt>Destinations</dt><dd>{_list(row.destinations)}</dd>" if row.destinations else "")
            + "</dl>\n"
        )
    stats = row.stats
    totals = (
        f'<p class="totals">{stats.invocations} invocations, {stats.errors} errors, {stats.throttles} throttles, '
        f"{stats.cold_starts} cold starts, p50 {_ms(stats.p50_ms)}, p99 {_ms(stats.p99_ms)}, cost {_usd(row.cost)}</p>\n"
        if stats
        else f'<p class="totals">No invocation in this window{_provisioned_cost(row.cost)}.</p>\n'
    )
    return settings + totals + consumers_table(consumers, window)


def recent_invocations(recent: Sequence[RecentInvocation]) -> str:
    """Render the newest invocations, each with its log in a collapsible block."""
    if not recent:
        return "<h2>Recent invocations</h2><p class=\"empty\">No invocation is stored yet.</p>\n"
    items = []
    for row in recent:
        outcome = row.outcome.value if row.outcome else "unknown"
        details = [f"<time>{_clock(row.time, with_date=True)}</time>", f'<span class="outcome {outcome}">{outcome}</span>']
        if row.error_type and row.outcome is not Outcome.THROTTLED:
            details.append(f"<span>{html.escape(row.error_type)}</span>")
        if row.trigger:
            details.append(f"<span>{html.escape(row.trigger)}</span>")
        if row.version is not None and row.version != "$LATEST":
            details.append(f'<span class="tag">version {html.escape(row.version)}</span>')
        if row.duration_ms is not None:
            details.append(f"<span>{_ms(row.duration_ms)}</span>")
        if row.init_ms is not None:
            details.append(f'<span class="tag">cold start, init {_ms(row.init_ms)}</span>')
        details.append(f'<code class="request-id">{html.escape(row.request_id)}</code>')
        log = html.escape(row.log) if row.log is not None else "No log: a throttled call never ran."
        items.append(
            f'<details class="invocation" data-request-id="{html.escape(row.request_id)}">'
            f"<summary>{' '.join(details)}</summary><pre class=\"log\">{log}</pre></details>"
        )
    return '<h2>Recent invocations <span class="muted">newest first, times in UTC</span></h2>\n' + "\n".join(items) + "\n"


# Small formats


def status_summary(functions: Sequence[FunctionRow]) -> str:
    """Render how many functions are in each status: "2 warm, 1 cold"."""
    counts = status_counts(functions)
    return html.escape(", ".join(f"{count} {status.value}" for status, count in counts.items() if count))


def _status(status: FunctionStatus) -> str:
    return f'<span class="status {status.value}">{status.value}</span>'


def _list(items: Iterable[str]) -> str:
    return "<br>".join(html.escape(item) for item in items)


def _alert(count: int) -> str:
    return " alert" if count else ""


def _clock(moment: float, with_date: bool = False) -> str:
    text = time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", time.gmtime(moment))
    return text


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.2f} ms" if value < 1 else f"{value:.1f} ms"


def _usd(value: float) -> str:
    # As `squall cost` writes it: single invocations cost fractions of a
    # micro-dollar, which keep three significant digits in plain decimals.
    return format_usd(value)


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
