"""`squall plan`: show what a manifest translates to, and what a deploy would add, change, remove and create.

The manifest is read on this machine, by the same code the server uses. When
a server responds, its API gives what is deployed now; without one, the plan
shows the specification alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from squall.cli_client import API_PREFIX, CommandFailed, client_options, open_client, parameter_overrides_option
from squall.cli_output import MISSING, print_table, region_option

# The fields of GET /_squall/api/functions a plan compares, with their labels.
_COMPARED = {
    "code": "code",
    "environment_digest": "environment",
    "handler": "handler",
    "memory_mb": "memory",
    "timeout_s": "timeout",
    "reserved_concurrency": "reserved",
    "provisioned": "provisioned",
    "routes": "routes",
    "triggers": "triggers",
    "layers": "layers",
}


def planned_functions(service: Any, variables: Any = None) -> dict[str, dict[str, Any]]:
    """Describe the manifest's functions in the shape GET /_squall/api/functions uses."""
    from squall.deploy.snapshot import code_digest, environment_digest, kept_paths
    from squall.gateway.management import describe_route, describe_trigger

    manifest = service.manifest_path.relative_to(service.root).as_posix()
    code_dirs = tuple(sorted({spec.code_dir for spec in service.functions.values()}))
    code, code_files = code_digest(
        service.root, variables, service.package_patterns, kept_paths(service, service.root), manifest, code_dirs
    )
    return {
        spec.name: {
            "handler": spec.handler,
            "memory_mb": spec.memory_mb,
            "timeout_s": spec.timeout_s,
            "reserved_concurrency": spec.reserved_concurrency,
            "provisioned": spec.provisioned,
            "routes": [describe_route(event) for event in spec.http],
            "triggers": [describe_trigger(trigger) for trigger in spec.triggers],
            "environment": sorted(spec.environment),
            "code": code,
            "code_files": code_files[spec.code_dir],
            "environment_digest": environment_digest(spec.environment),
            "environment_digests": {name: environment_digest({name: value}) for name, value in spec.environment.items()},
            "layers": list(spec.layers),
            "other_settings": _other_settings(spec),
        }
        for spec in service.functions.values()
    }


def _other_settings(spec: Any) -> list[str]:
    """Describe the settings a plan's table has no column for, where they differ from their defaults."""
    from squall.gateway.management import describe_destinations
    from squall.manifest.spec import DEFAULT_ASYNC_RETRIES, DEFAULT_KEEP_ALIVE_S, DEFAULT_MAX_EVENT_AGE_S

    settings = [f"layer {layer.partition('@')[0]}" for layer in spec.layers]
    if spec.keep_alive_s != DEFAULT_KEEP_ALIVE_S:
        settings.append(f"keep_alive_s: {spec.keep_alive_s}")
    if spec.max_queue is not None:
        settings.append(f"max_queue: {spec.max_queue}")
    config = spec.async_config
    if config.max_retry_attempts != DEFAULT_ASYNC_RETRIES:
        settings.append(f"max_retry_attempts: {config.max_retry_attempts}")
    if config.max_event_age_s != DEFAULT_MAX_EVENT_AGE_S:
        settings.append(f"max_event_age_s: {config.max_event_age_s}")
    return settings + describe_destinations(config)


def function_changes(planned: Mapping[str, Mapping[str, Any]], deployed: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Return (action, function, detail) rows: add, change (with the fields that differ) or remove."""
    rows = []
    for name, settings in planned.items():
        current = deployed.get(name)
        if current is None:
            rows.append(("add", name, ""))
            continue
        compared = _COMPARED
        if "code_files" in current:
            # The copy's name changes with the manifest's text too, where the deploy keeps the instances.
            compared = {("code_files" if field == "code" else field): label for field, label in _COMPARED.items()}
        changed = [
            _describe_change(field, label, current, settings)
            for field, label in compared.items()
            if _normal(current.get(field)) != _normal(settings.get(field))
        ]
        rows.append(("change" if changed else "keep", name, "; ".join(changed)))
    rows += [("remove", name, "") for name in deployed if name not in planned]
    return rows


def _describe_change(field: str, label: str, current: Mapping[str, Any], planned: Mapping[str, Any]) -> str:
    before = current.get("environment_digests")
    after = planned.get("environment_digests")
    if field == "environment_digest" and isinstance(before, dict) and isinstance(after, dict):
        # Names only, as everywhere in a plan: values may be secrets.
        parts = [f"{name} added" for name in sorted(set(after) - set(before))]
        parts += [f"{name} changed" for name in sorted(set(after) & set(before)) if after[name] != before[name]]
        parts += [f"{name} removed" for name in sorted(set(before) - set(after))]
        return f"{label}: {', '.join(parts)}"
    return f"{label}: {_show(current.get(field))} -> {_show(planned.get(field))}"


def _conflict(row: Sequence[str], owners: Mapping[str, Any]) -> tuple[str, str, str]:
    owner = owners[row[1]]
    return ("conflict", row[1], f"already deployed by service {owner!r}: the deploy would fail; "
            f"remove that service first (`squall remove {owner}`) or rename the function")


def _normal(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def _show(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)


def resource_names(service: Any) -> dict[str, list[str]]:
    """Return the declared resources by kind: queues, buckets, tables and streams."""
    resources = service.resources
    return {
        "queue": [queue.name for queue in resources.queues],
        "bucket": [bucket.name for bucket in resources.buckets],
        "table": [table.name for table in resources.tables],
        "stream": [stream.name for stream in resources.streams],
    }


def route_conflicts(service: Any, others: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Return a "conflict" row when a route of `service` clashes with a route another service deployed."""
    from squall.gateway.router import RouteError, Router
    from squall.manifest.spec import ApiType, HttpEvent

    routes = []
    for function in others:
        for route in function.get("http") or []:
            api = ApiType(route["api"]) if route.get("api") else None
            event = HttpEvent(route["method"], route["path"], route["payload"], route.get("stage"), api=api)
            routes.append((str(function["name"]), event))
    owners = {str(function["name"]): function.get("service") for function in others}
    routes += [(spec.name, event) for spec in service.functions.values() for event in spec.http]
    try:
        Router(routes)
    except RouteError as error:
        owner = owners.get(error.other_function or "")
        if owner is None:
            return []  # a clash within the service, which the checks above report
        return [("conflict", f"route {error.path} of {error.function}",
                 f"{error}, which service {owner!r} deployed: the deploy would fail")]
    return []


def resource_conflicts(client: Any, service: Any, existing: Mapping[str, set[str]]) -> list[tuple[str, str, str]]:
    """Return (action, what, detail) for each declared table or stream that exists with other settings.

    The action is "conflict" where the deploy fails, because a table's keys
    and a stream's shards cannot change in place, and "change" for a table
    stream's view type, which the deploy changes.
    """
    def call(service_name: str, operation: str, **arguments: Any) -> Any:
        response = client.send("POST", f"{API_PREFIX}/services/{service_name}/{operation}", json_body=arguments)
        return client.decode_json(response).get("result")

    conflicts = []
    for table in service.resources.tables:
        if table.name not in existing["table"]:
            continue
        found = call("tables", "describe_table", name=table.name)
        sort = found.get("sort_key")
        keys = (
            (found["partition_key"]["name"], found["partition_key"]["type"]),
            (sort["name"], sort["type"]) if sort else None,
            found.get("ttl_attribute"),
        )
        if keys != (tuple(table.partition_key), tuple(table.sort_key) if table.sort_key else None, table.ttl_attribute):
            conflicts.append((
                "conflict",
                f"table {table.name}",
                f"exists with partition key {_key(keys[0])}, sort key {_key(keys[1])} and TTL attribute "
                f"{keys[2] or '-'}; the deploy would fail: change the manifest to match, or delete the table first "
                f"(`squall table drop {table.name}`)",
            ))
        elif found.get("stream_view_type") != table.stream_view_type:
            before, after = found.get("stream_view_type") or "none", table.stream_view_type or "none"
            conflicts.append(("change", f"table {table.name}", f"stream: {before} -> {after}"))
    for stream in service.resources.streams:
        if stream.name not in existing["stream"]:
            continue
        found = call("streams", "describe_stream", stream=stream.name)
        if (found["shard_count"], found["retention_h"]) != (stream.shards, stream.retention_h):
            conflicts.append((
                "conflict",
                f"stream {stream.name}",
                f"exists with {found['shard_count']} shard(s) and {found['retention_h']} h retention; the deploy "
                f"would fail: change the manifest to match, or delete the stream first (`squall stream delete {stream.name}`)",
            ))
    return conflicts


def queue_changes(client: Any, service: Any) -> list[tuple[str, str]]:
    """Return (what, detail) for each declared queue whose settings the deploy would change."""
    if not service.resources.queues:
        return []
    response = client.send("POST", f"{API_PREFIX}/services/queues/list_queues", json_body={})
    existing = {queue["name"]: queue.get("settings") or {} for queue in client.decode_json(response).get("result") or []}
    changes = []
    for queue in service.resources.queues:
        current = existing.get(queue.name)
        if current is None:
            continue
        dead_letter = current.get("dead_letter") or {}
        before = {
            "visibility_timeout_s": current.get("visibility_timeout_s"),
            "retention_s": current.get("retention_s"),
            "delay_s": current.get("delay_s"),
            "receive_wait_s": current.get("receive_wait_s"),
            "dead_letter": f"{dead_letter['target']} after {dead_letter['max_receive_count']}" if dead_letter else "-",
        }
        after = {
            "visibility_timeout_s": queue.visibility_timeout_s,
            "retention_s": queue.retention_s,
            "delay_s": queue.delay_s,
            "receive_wait_s": queue.receive_wait_s,
            "dead_letter": f"{queue.dead_letter_queue} after {queue.max_receive_count}" if queue.dead_letter_queue else "-",
        }
        differences = [f"{name}: {before[name]} -> {after[name]}" for name in after if before[name] != after[name]]
        if differences:
            changes.append((f"queue {queue.name}", "; ".join(differences)))
    return changes


def _key(key: tuple[str, str] | None) -> str:
    return f"{key[0]}:{key[1]}" if key else "-"


def missing_secret_rows(client: Any, service: Any) -> list[tuple[str, str, str]]:
    """Return a row for each secret the manifest references that the server does not have."""
    from squall.secrets.references import environment_references

    referenced: set[str] = set()
    for spec in service.functions.values():
        referenced |= environment_references(spec.environment)
    if not referenced:
        return []
    stored = {entry["name"] for entry in client.get_json(f"{API_PREFIX}/secrets").get("secrets") or []}
    return [
        ("missing", f"secret {name}", f"the deploy would fail: set it with `squall secret set {name}`")
        for name in sorted(referenced - stored)
    ]


def missing_trigger_rows(service: Any, existing: Mapping[str, set[str]]) -> list[tuple[str, str, str]]:
    """Return a row for each resource a trigger or destination uses that is neither declared nor on the server."""
    from squall.manifest.spec import ObjectTrigger, QueueTrigger, StreamTrigger, TableStreamTrigger

    declared = {kind: set(names) for kind, names in resource_names(service).items()}
    used: dict[tuple[str, str], list[str]] = {}
    for spec in service.functions.values():
        for trigger in spec.triggers:
            if isinstance(trigger, QueueTrigger):
                used.setdefault(("queue", trigger.queue), []).append(spec.name)
            elif isinstance(trigger, ObjectTrigger):
                used.setdefault(("bucket", trigger.bucket), []).append(spec.name)
            elif isinstance(trigger, TableStreamTrigger):
                used.setdefault(("table", trigger.table), []).append(spec.name)
            elif isinstance(trigger, StreamTrigger):
                used.setdefault(("stream", trigger.stream), []).append(spec.name)
        for _, destination in spec.async_config.destinations():
            if destination.kind == "queue":
                used.setdefault(("queue", destination.name), []).append(spec.name)
    return [
        ("missing", f"{kind} {name}",
         f"the deploy would fail: used by {', '.join(sorted(set(functions)))}; declare it under resources or create it")
        for (kind, name), functions in sorted(used.items())
        if name not in declared[kind] and name not in existing[kind]
    ]


def missing_destination_rows(service: Any, functions: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """Return a row for each function a destination names that neither `service` nor another deployed service has.

    `functions` are the deployed functions as GET /_squall/api/functions lists them.
    """
    from squall.manifest.resource_checks import missing_function_destinations

    others = {str(f["name"]): f.get("aws_name") for f in functions if f.get("service") != service.service}
    by_name: dict[str, list[Any]] = {}
    for missing in missing_function_destinations(service, others):
        by_name.setdefault(missing.name, []).append(missing)
    return [
        ("missing", f"function {name}",
         f"the deploy would fail: used by {', '.join(f'{m.function} ({m.setting})' for m in found)}: {found[0].reason}")
        for name, found in sorted(by_name.items())
    ]


def existing_resources(client: Any) -> dict[str, set[str]]:
    """Ask the server which queues, buckets, tables and streams exist."""

    def call(service: str, operation: str) -> Any:
        response = client.send("POST", f"{API_PREFIX}/services/{service}/{operation}", json_body={})
        return client.decode_json(response).get("result")

    return {
        "queue": {queue["name"] for queue in call("queues", "list_queues")},
        "bucket": {bucket["name"] for bucket in call("objects", "list_buckets")},
        "table": set(call("tables", "list_tables")),
        "stream": set(call("streams", "list_streams").get("streams", [])),
    }


def specification_table(planned: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("FUNCTION", "HANDLER", "MEMORY", "TIMEOUT", "RESERVED", "PROVISIONED", "EVENTS", "ENVIRONMENT", "OTHER"):
        table.add_column(column, overflow="fold")
    for name, settings in planned.items():
        events = [*settings["routes"], *settings["triggers"]]
        table.add_row(
            name,
            settings["handler"],
            f"{settings['memory_mb']} MB",
            f"{settings['timeout_s']} s",
            _show(settings["reserved_concurrency"]),
            str(settings["provisioned"]),
            "\n".join(events) or MISSING,
            # Names only: values may be secrets or references to them.
            ", ".join(settings["environment"]) or MISSING,
            "\n".join(settings["other_settings"]) or MISSING,
        )
    return table


def _check_routes(service: Any) -> None:
    """Fail as a deploy would on a route, declared resource, object trigger or requirements file that the server rejects."""
    from squall.deploy.dependencies import check_requirement_files
    from squall.errors import DeployError
    from squall.events.resources import check_declared_queues, check_declared_resources
    from squall.gateway.router import RouteError, Router

    try:
        Router((spec.name, event) for spec in service.functions.values() for event in spec.http)
    except RouteError as error:
        raise CommandFailed(f"{service.manifest_path.name}: {error}") from None
    try:
        check_declared_queues(service)
        check_declared_resources(service)
        check_requirement_files(service)
    except DeployError as error:
        raise CommandFailed(str(error)) from None


def _region_or_none(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return None if value is None else region_option(ctx, param, value)


def _running_region(client: Any) -> str | None:
    """Return the region of the server the client reaches, or None when no server responds."""
    try:
        region = client.decode_json(client.send("GET", f"{API_PREFIX}/health")).get("region")
    except CommandFailed:
        return None
    return region if isinstance(region, str) else None


@click.command()
@click.argument("folder", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stage", default=None, help="The stage of a serverless.yml, as `squall deploy --stage` would send it [default: the manifest's, else dev].")
@click.option("--config-env", default=None, help="The samconfig environment of a SAM template, as `squall deploy --config-env` would send it [default: default].")
@click.option("--region", metavar="REGION", envvar="SQUALL_REGION", default=None, callback=_region_or_none,
              help="The region of the server the plan is for, as `squall up --region` sets it [env: SQUALL_REGION;"
                   " default: the running server's, else us-east-1].")
@parameter_overrides_option
@client_options
@click.pass_context
def plan(ctx: click.Context, folder: Path, stage: str | None, config_env: str | None, region: str | None,
         parameter_overrides: dict[str, str] | None, endpoint: str, token: str | None, data: Path) -> None:
    """Show what FOLDER's manifest translates to, and what deploying it would add, change, remove and create."""
    from squall.deploy.variables import DeployVariables, InvalidVariables, deploying_shell_variables
    from squall.errors import ManifestError
    from squall.manifest import find_manifest, load_service
    from squall.manifest.serverless_variables import server_region, set_server_region

    # The manifest resolves ${aws:region} and AWS::Region to the server's region, as a deploy there would.
    client = open_client(ctx, endpoint, token, data)
    if region is None:
        region = _running_region(client) or "us-east-1"
    earlier_region = server_region()
    set_server_region(region)
    try:
        variables = deploying_shell_variables(
            find_manifest(folder.resolve()), stage, config_env=config_env, parameter_overrides=parameter_overrides
        )
        service = load_service(folder.resolve(), variables=variables)
    except InvalidVariables as error:
        raise click.BadParameter(str(error), param_hint=f"'{error.option}'") from None
    except ManifestError as error:
        raise CommandFailed(str(error)) from None
    finally:
        set_server_region(earlier_region)  # a plan run in-process leaves the region as it was
    _check_routes(service)
    # A deploy sends exactly these, so the code copy it makes has this digest.
    planned = planned_functions(service, DeployVariables.from_json(variables.to_json()))

    click.echo(f"service {service.service} ({service.manifest_path.name}): {len(planned)} function(s)")
    print_table(specification_table(planned))
    from squall.deploy.warnings import service_warnings

    # The deploy warns about these too, once the code is copied.
    for warning in (*service.warnings, *service_warnings(service)):
        click.secho(f"warning: {service.manifest_path.name}: {warning}", err=True, fg="yellow")

    try:
        functions = client.decode_json(client.send("GET", f"{API_PREFIX}/functions")).get("functions", [])
        existing = existing_resources(client)
    except CommandFailed as error:
        click.echo(f"\nno comparison with a running server: {error.format_message()}")
        return

    deployed = {f["name"]: f for f in functions if f.get("service") == service.service}
    rows: list[Sequence[str]] = list(function_changes(planned, deployed))
    owners = {f["name"]: f.get("service") for f in functions if f.get("service") != service.service}
    rows = [_conflict(row, owners) if row[0] == "add" and row[1] in owners else row for row in rows]
    rows += route_conflicts(service, [f for f in functions if f.get("service") != service.service])
    rows += missing_secret_rows(client, service)
    rows += missing_trigger_rows(service, existing)
    rows += missing_destination_rows(service, functions)
    for kind, names in resource_names(service).items():
        rows += [("create" if name not in existing[kind] else "keep", f"{kind} {name}", "") for name in names]
    differences = {what: (action, what, detail) for action, what, detail in resource_conflicts(client, service, existing)}
    rows = [differences.get(row[1], row) for row in rows]
    changed = dict(queue_changes(client, service))
    rows = [("change", row[1], changed[row[1]]) if row[0] == "keep" and row[1] in changed else row for row in rows]
    changes = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ACTION", "WHAT", "DETAIL"):
        changes.add_column(column, overflow="fold")
    for action, subject, detail in rows:
        changes.add_row(action, subject, detail or "")
    click.echo(f"\na deploy to {client.endpoint} would:")
    print_table(changes)
