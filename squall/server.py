"""The Squall server: one process, one event loop, serving a folder's functions.

`serve()` is what `squall up` runs. It opens the store, starts the
dispatcher, deploys the folder, serves HTTP, and redeploys when the folder
changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import fcntl
import functools
import ipaddress
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import watchfiles

from squall import __version__
from squall.dispatcher.dispatcher import LATEST, Dispatcher, NodeSettings
from squall.deploy.package import install, unpack
from squall.deploy.dependencies import install_service_requirements, install_timeout_from_environment
from squall.deploy.progress import InstallBoard
from squall.deploy.snapshot import DATA_FOLDER_MARKER, is_excluded_path, kept_paths, prune_copies, snapshot
from squall.deploy.warnings import service_warnings
from squall.deploy.variables import DeployVariables, InvalidVariables, deploying_shell_variables
from squall.errors import DeployError, ManifestError, SquallError
from squall.events.async_invoke import AsyncInvoker, QueueSender, async_settings_from_environment
from squall.events.async_store import AsyncStore
from squall.events.object_trigger import ObjectTriggers
from squall.events.queue_trigger import QueueTriggers
from squall.events.record_triggers import RecordTriggers
from squall.events.scheduler import Scheduler
from squall.events.resources import create_resources, prepare_resources
from squall.services.hub import ServiceHub, sweep_interval_from_environment
from squall.services.queues.model import MessageAttribute
from squall.gateway.app import GatewayApp, qualifier_hint
from squall.gateway.management import describe_trigger
from squall.gateway.router import RouteError, Router
from squall.manifest import find_manifest, load_manifest_file, load_service
from squall.manifest.serverless_variables import DEFAULT_REGION, is_region_name, set_server_region
from squall.manifest.spec import FunctionSpec, ServiceSpec
from squall.metering.pricing import DEFAULT_PRICES, PriceTable
from squall.metering.records import InvocationRecord, LogEntry
from squall.observability import Metrics
from squall.observability.emf import EMF_MARKER
from squall.metering.provisioned import ProvisionedSampler
from squall.metering.retention import RetentionPolicy, run_retention
from squall.secrets.errors import SecretKeyError
from squall.secrets.store import SecretStore, open_secret_store
from squall.store.base import ServiceEntry
from squall.store.sqlite import SqliteStore
from squall.versions import VersionStore

logger = logging.getLogger("squall.server")

# A redeploy starts once the folder has had no change for WATCH_QUIET_S, so
# that a file or a tree still being written is not copied half done, or after
# WATCH_MAX_WAIT_S of changes without such a pause.
WATCH_QUIET_S = 0.25
WATCH_MAX_WAIT_S = 3.0
# The address `squall up` listens on unless --host or --port sets another.
DEFAULT_HOST = "127.0.0.1"
# The address of the socket instances reach the server on, whatever address the server serves.
INNER_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# The file in a data folder that contains the region the folder was first served as.
REGION_FILE = "region"


@dataclass
class Platform:
    """The running platform as the gateway uses it: dispatcher, store, router and deploys."""

    dispatcher: Dispatcher
    store: SqliteStore
    prices: PriceTable
    router: Router
    async_invoker: AsyncInvoker
    hub: ServiceHub
    queue_triggers: QueueTriggers
    object_triggers: ObjectTriggers
    record_triggers: RecordTriggers
    scheduler: Scheduler
    secrets: SecretStore | None = None
    versions: VersionStore | None = None
    installs: InstallBoard = field(default_factory=InstallBoard)  # requirement installs running now
    # The scheduler drops schedules missing from an update, so it receives its
    # first update once every service of the last run is deployed again.
    schedules_ready: bool = False
    sources: dict[str, Path] = field(default_factory=dict)  # service name -> the folder it came from
    # Services whose last deploy of a folder or package found the same code and settings, and changed nothing.
    unchanged: set[str] = field(default_factory=set)
    # Held while a deploy or a removal builds and switches the route table and
    # triggers from the deployed services, so that two at once do not drop each other's routes.
    switching: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Held while a deploy makes or takes a code copy, and while unused copies are deleted.
    copying: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Code copies of deploys still under way, with how many deploys use each.
    copies_in_use: dict[Path, int] = field(default_factory=dict)
    # Folders whose service `squall remove` removed: `squall up` stops redeploying
    # them on changes, until a deploy of the folder serves it again.
    removed_folders: set[Path] = field(default_factory=set)
    # Service name -> the manifest warnings its last deploy logged, so that a
    # redeploy under `squall up` does not repeat them all on each save.
    logged_warnings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The same for the warnings about the deployed copy (missing versions, syntax, runtime).
    logged_deploy_warnings: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Set when the stop signal arrives: a route call that its request stops waiting for is then cut, not kept.
    stopping: bool = False

    def begin_stop(self) -> None:
        """Note that the server is stopping. Safe to call from a signal handler."""
        self.stopping = True

    async def deploy_folder(self, folder: Path, variables: DeployVariables | None = None) -> ServiceSpec:
        """Load the folder's manifest, copy its code and deploy it; the previous version keeps serving on failure.

        `variables` are the deploying shell's stage and `${env:}` values; None
        uses this process's environment. The returned spec's `root` is the
        immutable copy instances import from.
        """
        folder = folder.resolve()
        service = await self._deploy_from(folder, folder, variables)
        self.removed_folders.discard(folder)
        return service

    async def deploy_package(self, package: bytes, variables: DeployVariables | None = None) -> ServiceSpec:
        """Deploy a service sent as a package (see squall.deploy.package); its files are kept in DATA/uploads.

        The package is unpacked and deployed from a staging folder first, so a
        failed deploy leaves the previous upload of the service in place.
        """
        uploads = self.dispatcher.settings.data_dir / "uploads"
        staging = await asyncio.to_thread(unpack, package, uploads)
        try:
            name = (await asyncio.to_thread(load_service, staging, None, variables)).service
            service = await self._deploy_from(staging, uploads / name, variables)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, staging, True)
            raise
        await asyncio.to_thread(install, staging, uploads, name)
        return service

    async def _deploy_from(self, folder: Path, recorded: Path, variables: DeployVariables | None) -> ServiceSpec:
        """Deploy the service in `folder`, and remember `recorded` as the folder a restart deploys it from."""
        service = await asyncio.to_thread(load_service, folder, None, variables)
        source = self.sources.get(service.service)
        uploads = self.dispatcher.settings.data_dir / "uploads"
        if source is not None and source != recorded and recorded.parent == uploads:
            raise DeployError(
                f"service {service.service!r} is deployed from the folder {source} on the server, which an upload "
                f"(--upload) cannot replace; deploy without --upload, or remove it first with "
                f"`squall remove {service.service}`"
            )
        if source is not None and source != recorded:
            raise DeployError(
                f"{recorded / service.manifest_path.name}: service {service.service!r} is already deployed from "
                f"{source}; deploy it from there, remove it first with `squall remove {service.service}`, "
                "or give this service another name in its manifest"
            )
        if self.logged_warnings.get(service.service) != service.warnings:
            for warning in service.warnings:
                logger.warning("%s: %s", service.manifest_path.name, warning)

        code_dir = self.dispatcher.settings.data_dir / "code"
        # A copy is made, or an old one taken again, only while no pruning runs.
        async with self.copying:
            root = await asyncio.to_thread(
                snapshot, folder, code_dir, self.dispatcher.settings.data_dir, variables, service.package_patterns,
                kept_paths(service, folder), service.manifest_path.relative_to(folder).as_posix(),
                tuple(sorted({spec.code_dir for spec in service.functions.values()} | {""})),
            )
            self.copies_in_use[root] = self.copies_in_use.get(root, 0) + 1
        try:
            deployed = await self._deploy_copy(dataclasses.replace(service, root=root), recorded)
        finally:
            left = self.copies_in_use.pop(root) - 1
            if left:
                self.copies_in_use[root] = left
        await self.prune_code_copies()
        return deployed

    async def _deploy_copy(self, service: ServiceSpec, recorded: Path) -> ServiceSpec:
        """Deploy a service whose `root` is its new code copy, and remember `recorded` as its folder."""
        root = service.root
        # Store the layers of the copy, and record the versions each function uses, before anything switches.
        from squall.deploy.layers import check_function_sizes, store_service_layers

        service = await asyncio.to_thread(store_service_layers, service)
        await asyncio.to_thread(check_function_sizes, service)
        # Install the functions' requirements before anything switches, so a failed install keeps the old version.
        await install_service_requirements(service, install_timeout_from_environment(), self.installs)
        if _same_version(self.dispatcher.services.get(service.service), service):
            # The same code and settings again: warm instances stay.
            logger.info("service %s is unchanged; its instances keep running", service.service)
            self.unchanged.add(service.service)
        else:
            await self.deploy(service)
            self.unchanged.discard(service.service)
        self.sources[service.service] = recorded
        self.logged_warnings[service.service] = service.warnings
        # A restart deploys the copy, so edits that were never deployed stay out.
        manifest = root / service.manifest_path.name
        await asyncio.to_thread(self.store.save_service, service.service, str(recorded), str(manifest))
        missing = await asyncio.to_thread(self._missing_qualifiers, service)
        missing += await asyncio.to_thread(service_warnings, service)
        limit_mb = self.dispatcher.budget.limit_mb
        missing += [
            f"{service.function_key(spec.name, 'memory_mb')}: {spec.memory_mb} MB is more than the node's whole memory "
            f"budget ({limit_mb} MB), so every call is throttled; raise --memory-budget-mb or lower the memory size"
            for spec in service.functions.values() if spec.memory_mb > limit_mb
        ]
        for spec in service.functions.values():
            pool = self.dispatcher.pools.get(spec.name)
            if spec.provisioned and pool is not None and pool.provisioned_failed:
                missing.append(
                    f"{service.function_key(spec.name, 'provisioned')}: the provisioned instances failed their init "
                    f"(`squall logs {spec.name}` shows why); calls start instances on demand until a deploy "
                    "starts the provisioned ones again"
                )
        if self.logged_deploy_warnings.get(service.service) != tuple(missing):
            for warning in missing:
                logger.warning("%s: %s", service.manifest_path.name, warning)
        self.logged_deploy_warnings[service.service] = tuple(missing)
        return dataclasses.replace(service, warnings=service.warnings + tuple(missing))

    async def prune_code_copies(self) -> None:
        """Delete the code copies under `DATA/code` that nothing uses any more.

        A copy stays while a deployed service, a published version, a pool
        (one a redeploy retired too) or a deploy still under way uses it, and
        while the registry names it for the next start.
        """
        async with self.copying:
            keep = set(self.copies_in_use)
            keep.update(Path(service.root) for service in self.dispatcher.services.values())
            keep.update(pool.settings.root for pool in self.dispatcher.live_pools())
            entries = await asyncio.to_thread(self.store.services)
            keep.update(Path(entry.manifest).parent for entry in entries)
            if self.versions is not None:
                keep.update(await asyncio.to_thread(self.versions.roots))
            removed, freed = await asyncio.to_thread(
                prune_copies, self.dispatcher.settings.data_dir / "code", keep
            )
        if removed:
            noun = "code copy" if removed == 1 else "code copies"
            logger.info("deleted %d %s that nothing uses any more (%d bytes)", removed, noun, freed)

    def _check_provisioned_memory(self, service: ServiceSpec) -> None:
        """Raise DeployError when provisioned instances would leave no memory for the calls they do not serve.

        Provisioned instances are never evicted. As Lambda keeps unreserved
        concurrency that provisioned concurrency cannot take, the node's
        memory budget must keep room for one on-demand instance of the
        largest function. Every function may need one: a call of a published
        version or an alias never runs on $LATEST's provisioned instances.
        """
        functions = [spec for name, other in self.dispatcher.services.items() if name != service.service
                     for spec in other.functions.values()]
        functions += service.functions.values()
        provisioned_mb = sum(spec.provisioned * spec.memory_mb for spec in functions)
        if not provisioned_mb:
            return
        largest = max(functions, key=lambda spec: spec.memory_mb, default=None)
        needed_mb = provisioned_mb + (largest.memory_mb if largest is not None else 0)
        limit_mb = self.dispatcher.budget.limit_mb
        if needed_mb <= limit_mb:
            return
        shortfall = ""
        if largest is not None and provisioned_mb <= limit_mb:
            shortfall = (f", which leaves {limit_mb - provisioned_mb} MB for the {largest.memory_mb} MB an instance "
                         f"of {largest.name} needs on demand")
        raise DeployError(
            f"provisioned instances need {provisioned_mb} MB of the node's memory budget ({limit_mb} MB){shortfall}; "
            f"start the server with --memory-budget-mb {needed_mb} or more, or lower provisioned"
        )

    def _missing_qualifiers(self, service: ServiceSpec) -> list[str]:
        """Describe each route and trigger whose version or alias does not exist yet.

        Their events wait, or fail, until it exists.
        """
        warnings: list[str] = []
        for spec in service.functions.values():
            events: list[tuple[str, str | None]] = [
                (f"route {event.method} {event.path}", event.qualifier) for event in spec.http
            ]
            events += [(f"trigger {describe_trigger(trigger)}", trigger.qualifier) for trigger in spec.triggers]
            for description, qualifier in events:
                if qualifier is None or qualifier == spec.auto_publish_alias:
                    continue
                if not self.dispatcher.qualifier_exists(spec.name, qualifier):
                    warnings.append(
                        f"{description} of function {spec.name!r} invokes version or alias {qualifier!r}, which does not "
                        f"exist yet: {qualifier_hint(spec.name, qualifier)}"
                    )
        return warnings

    def _other_functions(self, service: ServiceSpec) -> dict[str, str | None]:
        """Map the functions other deployed services define to their AWS names."""
        return {
            spec.name: spec.aws_name
            for name, other in self.dispatcher.services.items()
            if name != service.service
            for spec in other.functions.values()
        }

    async def restore(self, skip: set[str]) -> None:
        """Deploy again the services a previous run had deployed, except those named in `skip`."""
        entries = await asyncio.to_thread(self.store.services)
        for entry in entries:
            if entry.name in skip:
                continue
            try:
                service = await self._redeploy_copy(entry)
            except (SquallError, ValueError, OSError) as error:
                logger.warning("cannot restore service %s from %s: %s", entry.name, entry.manifest, error)
                continue
            logger.info("restored service %s as deployed from %s", service.service, entry.folder)

    async def redeploy(self, name: str) -> ServiceSpec:
        """Deploy the running version of a service again, so that new instances read a fresh environment.

        Published versions of its functions stop their instances too. The next
        invocation of a version starts it again with the fresh environment.
        """
        service = self.dispatcher.services.get(name)
        if service is None:
            raise DeployError(f"service {name!r} is not deployed")
        for spec in service.functions.values():
            for pool in self.dispatcher.function_pools(spec.name):
                if pool.settings.version != LATEST:
                    self.dispatcher.retire_version(spec.name, pool.settings.version)
        await self.deploy(service)
        return service

    async def _redeploy_copy(self, entry: ServiceEntry) -> ServiceSpec:
        """Deploy a service again from the code copy its last deploy made, not from its folder."""
        manifest = Path(entry.manifest)
        if not manifest.is_file():
            # Registries written before copies were recorded name the manifest in the folder.
            return await self.deploy_folder(Path(entry.folder))
        service = await asyncio.to_thread(load_manifest_file, manifest, None, entry.name)
        await self.deploy(service)
        self.sources[service.service] = Path(entry.folder)
        return service

    async def remove(self, name: str) -> list[str]:
        """Stop serving a deployed service and forget it, so that a restart does not deploy it again.

        Its data (queues, buckets, tables, streams, logs and records) stays.
        Raises DeployError when no such service is deployed.
        """
        async with self.switching:
            return await self._remove(name)

    async def _remove(self, name: str) -> list[str]:
        if name not in self.dispatcher.services:
            deployed = ", ".join(sorted(self.dispatcher.services)) or "none"
            raise DeployError(f"service {name!r} is not deployed; deployed services: {deployed}")
        remaining = [
            (spec.name, event)
            for service_name, other in self.dispatcher.services.items()
            if service_name != name
            for spec in other.functions.values()
            for event in spec.http
        ]
        self.router = Router(remaining)
        functions = await self.dispatcher.remove(name)
        source = self.sources.pop(name, None)
        if source is not None:
            self.removed_folders.add(source)
        await asyncio.to_thread(self.store.remove_service, name)
        self.queue_triggers.update(self.dispatcher.services)
        self.object_triggers.update(self.dispatcher.services)
        self.record_triggers.update(self.dispatcher.services)
        if self.schedules_ready:
            self.scheduler.update(self.dispatcher.services)
        return functions

    async def deploy(self, service: ServiceSpec) -> None:
        """Serve the service's functions, routes and triggers.

        Raises DeployError, and serves what it served before, when a new
        version's provisioned instances fail their init.
        """
        async with self.switching:
            await self._deploy(service)

    async def _deploy(self, service: ServiceSpec) -> None:
        # Function names are global. This check comes before the routes, whose
        # clash would name only the function and not the service that owns it.
        for function in service.functions:
            owner = self.dispatcher.owner_of(function)
            if owner not in (None, service.service):
                raise DeployError(
                    f"function {function!r} of service {service.service!r} is already deployed by service {owner!r}; "
                    f"remove that service first with `squall remove {owner}`, or rename the function"
                )
        self._check_aws_names(service)
        self._check_provisioned_memory(service)
        # Build the new route table first, so a route conflict fails the
        # deploy before anything switches.
        routes = [
            (spec.name, event)
            for name, other in self.dispatcher.services.items()
            if name != service.service
            for spec in other.functions.values()
            for event in spec.http
        ]
        routes += [(spec.name, event) for spec in service.functions.values() for event in spec.http]
        try:
            router = Router(routes)
        except RouteError as error:
            owner = self.dispatcher.owner_of(error.other_function) if error.other_function else None
            if owner in (None, service.service):
                raise
            raise DeployError(f"{error}, which service {owner!r} deployed") from None

        # Data services: check the declared resources and every trigger's
        # source first, then create what is missing, before anything switches.
        # Function destinations are checked once every service of the last run is deployed again,
        # because until then a destination may belong to a service not yet restored.
        others = self._other_functions(service) if self.schedules_ready else None
        creations = await self.hub.run(prepare_resources, self.hub, service, others)
        await self.hub.run(create_resources, creations, service)

        # A function whose code and settings did not change keeps its warm instances.
        previous = self.dispatcher.services.get(service.service)
        await self.dispatcher.deploy(service, keep_unchanged=True)
        failures = await self._move_auto_aliases(service)
        if failures:
            # As CloudFormation rolls a stack back, every function returns to the code it ran before.
            if previous is not None:
                await self.dispatcher.deploy(previous, keep_unchanged=True)
                outcome = "the previous code keeps serving"
            else:
                await self.dispatcher.remove(service.service)
                outcome = "the service is not served"
            raise DeployError("\n  also ".join(failures) + f"; the deploy was rolled back, so {outcome}")
        self.router = router
        if previous is not None:
            _log_route_changes(service.service, previous, service)
        self.queue_triggers.update(self.dispatcher.services)
        self.object_triggers.update(self.dispatcher.services)
        self.record_triggers.update(self.dispatcher.services)
        if self.schedules_ready:
            self.scheduler.update(self.dispatcher.services)

    def _check_aws_names(self, service: ServiceSpec) -> None:
        """Raise DeployError when a function's AWS name is another function's name or AWS name.

        Lambda's function names are unique in an account and region, so AWS
        would fail such a deploy too.
        """
        holders: dict[str, str] = {}
        for name, other in self.dispatcher.services.items():
            if name == service.service:
                continue
            for spec in other.functions.values():
                holders[spec.name] = f"function {spec.name!r} of service {name!r}"
                if spec.aws_name:
                    holders[spec.aws_name] = f"the AWS name of function {spec.name!r} of service {name!r}"
        for spec in service.functions.values():
            holders.setdefault(spec.name, f"function {spec.name!r} of this service")
        problems = []
        for spec in service.functions.values():
            if not spec.aws_name or spec.aws_name == spec.name:
                continue
            holder = holders.get(spec.aws_name)
            if holder is not None:
                problems.append(f"{service.function_key(spec.name, 'aws_name')}: {spec.aws_name!r} is already {holder}")
            else:
                holders[spec.aws_name] = f"the AWS name of function {spec.name!r}"
        for spec in service.functions.values():
            holder = holders.get(spec.name, "")
            if holder.startswith("the AWS name of function") and "of service" in holder:
                problems.append(f"{service.function_key(spec.name)}: {spec.name!r} is already {holder}")
        if problems:
            raise DeployError(
                f"{service.manifest_path.name}: " + "\n  also ".join(problems)
                + "; function names are unique on a server, as in an AWS account and region: rename one"
            )

    async def _move_auto_aliases(self, service: ServiceSpec) -> list[str]:
        """Publish each function that has an auto-publish alias, and point the alias at a newly published version.

        A function whose code folder and settings equal the latest version's
        keeps that version, and then the alias stays where it is: a redeploy
        that changed other files, or a restart, keeps a rollback (`squall
        alias set`) and its weights. The provisioned instances of such a
        function belong to the alias's version, and start now.

        A new version with provisioned instances starts them before any alias
        moves. When some fail their init, no alias moves, and the failures
        are returned, one message each, for the caller to roll the deploy back.
        """
        functions = [spec for spec in service.functions.values() if spec.auto_publish_alias]
        if not functions or self.versions is None:
            return []
        store = self.versions
        manifest = service.root / service.manifest_path.name
        moves: list[tuple[FunctionSpec, str, str, bool]] = []  # (spec, alias, version, whether the alias moves)
        failures: list[str] = []
        started: list[tuple[str, str]] = []  # the new versions whose provisioned instances started
        published_now: list[tuple[str, int]] = []  # the versions this deploy published
        for spec in functions:
            alias = spec.auto_publish_alias or ""
            previous = {a.name: a for a in await asyncio.to_thread(store.aliases, spec.name)}.get(alias)
            published = await asyncio.to_thread(store.versions, spec.name)
            latest_before = published[-1].version if published else None
            version = await asyncio.to_thread(
                store.publish_if_changed, spec, service.service, service.root, manifest=manifest
            )
            if version != latest_before:
                published_now.append((spec.name, version))
            if previous is not None and version == latest_before:
                moves.append((spec, alias, previous.version, False))
                continue
            if previous is not None and spec.provisioned:
                if not await self._provisioned_start(spec.name, str(version)):
                    # As CloudFormation rolls back a deploy whose provisioned concurrency fails its init.
                    failures.append(
                        f"{service.function_key(spec.name, 'auto_publish_alias')}: the provisioned instances of the "
                        f"new version {version} failed their init (`squall logs {spec.name}` shows why), so alias "
                        f"{alias} stays at version {previous.version}"
                    )
                    continue
                started.append((spec.name, str(version)))
            moves.append((spec, alias, str(version), True))
        if failures:
            for function, version in started:
                self.dispatcher.retire_version(function, version)
            # As CloudFormation deletes the versions a failed update created; their numbers are not used again.
            for function, number in published_now:
                try:
                    await asyncio.to_thread(store.delete_version, function, number)
                except SquallError as error:
                    logger.warning("the rolled-back version %d of %s stays published: %s", number, function, error)
            return failures
        for spec, alias, version, moved in moves:
            if moved:
                await asyncio.to_thread(store.set_alias, spec.name, alias, version)
            await self.alias_moved(spec.name, alias, version)
        return []

    async def _provisioned_start(self, function: str, version: str) -> bool:
        """Start a new version's provisioned instances before its alias moves; return whether their init succeeded.

        On failure the version's pool stops, and the provisioned instances stay with the alias's current version.
        """
        before = self.dispatcher.provisioned_versions.get(function)
        self.dispatcher.provisioned_versions[function] = version
        pool = await self.dispatcher.version_pool(function, version)
        # Until the alias moves, the current version keeps its place; alias_moved then retires it.
        if before is None:
            del self.dispatcher.provisioned_versions[function]
        else:
            self.dispatcher.provisioned_versions[function] = before
        if pool.provisioned_failed:
            self.dispatcher.retire_version(function, version)
            return False
        return True

    async def alias_moved(self, function: str, alias: str, version: str) -> None:
        """Give the provisioned instances of a function to its auto-publish alias's new version, if it has one.

        The previous version's instances stop, so its provisioned ones are not
        kept twice; a later call through a weight starts it again without them.
        """
        owner = self.dispatcher.owner_of(function)
        if owner is None or self.dispatcher.services[owner].functions[function].auto_publish_alias != alias:
            return
        before = self.dispatcher.provisioned_versions.get(function)
        self.dispatcher.provisioned_versions[function] = version
        if before is not None and before != version and before != LATEST:
            self.dispatcher.retire_version(function, before)
        await self.dispatcher.version_pool(function, version)


def hub_queue_sender(hub: ServiceHub) -> QueueSender:
    """Return a function that sends a message to a queue of the hub, as destinations and dead-letter queues do."""

    async def send(queue: str, body: str, attributes: Mapping[str, MessageAttribute] | None = None) -> None:
        await hub.run(functools.partial(hub.store("queues").send, queue, body, attributes=attributes))
        hub.notify("queues", queue)

    return send


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenFileError(SquallError):
    """Raised when the data folder's token file cannot give a token."""


def load_or_create_token(data: Path) -> str:
    """Return the management token, creating it with owner-only permissions on first start."""
    path = data / "token"
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            # Anyone who can read the token can deploy code and run it as the server's user.
            path.chmod(0o600)
            logger.warning("token file %s was readable by others (mode %o); it is now owner-only (600)", path, mode)
        token = path.read_text().strip()
        if not token:
            # An empty token would leave the APIs open on a non-loopback address.
            raise TokenFileError(f"token file {path} is empty: delete it to have a new token made, or write a token into it")
        return token
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return token


def _same_version(deployed: ServiceSpec | None, candidate: ServiceSpec) -> bool:
    """Tell whether a deploy would change nothing: same code copy, functions and resources."""
    if deployed is None:
        return False
    return (deployed.root, deployed.functions, deployed.resources) == (
        candidate.root, candidate.functions, candidate.resources
    )


def local_endpoint(host: str, port: int) -> str:
    """Return the URL a process on this machine uses to reach a server bound to `host`."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _make_private(data: Path) -> None:
    """Take group and other accounts' access away from a data folder made before, as a new one never has it."""
    try:
        mode = data.stat().st_mode & 0o777
        if mode & 0o077:
            data.chmod(mode & 0o700)
            logger.warning("data folder %s: removed the access of other accounts (mode %o, now %o), because it contains "
                           "logs, databases and the secrets key", data, mode, mode & 0o700)
    except OSError as error:
        logger.warning("data folder %s: cannot make it private to this account: %s", data, error)


def lock_data_folder(data: Path) -> int | None:
    """Take the data folder for this server, or print why not and return None.

    Two servers on one folder would both run its schedules and asynchronous
    retries. The lock is the kernel's, so it ends with the process, however
    the process ends.
    """
    path = data / DATA_FOLDER_MARKER
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        print(f"squall: the data folder {data} is in use by another Squall server (pid {holder}); "
              "stop that server, or choose another folder with --data", file=sys.stderr)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


DATA_FOLDER_FIX = "choose a folder you can write with --data or SQUALL_DATA, or make this one writable"


def check_data_region(data: Path, region: str) -> str | None:
    """Record the region a data folder is first served as; return why `region` cannot serve it, or None.

    A folder keeps one region because what it stores keeps ARNs that name it:
    the DeadLetterQueueSourceArn of messages moved to a dead-letter queue, and
    the events of asynchronous invocations still queued. A folder that a
    server used before the region was recorded (it has squall.db but no
    region file) was served as us-east-1, the only region there was then.
    """
    path = data / REGION_FILE
    try:
        recorded = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        recorded = DEFAULT_REGION if (data / "squall.db").exists() else region
        if recorded == region:
            path.write_text(region + "\n", encoding="utf-8")
    if not is_region_name(recorded):
        return (f"{path} contains {recorded!r}, which is not a region name: write into it the region the folder "
                f"was first served as, such as {DEFAULT_REGION}")
    if recorded == region:
        return None
    return (f"the data folder {data} was first served as region {recorded}, not {region}. Its dead-letter messages "
            f"and queued events name {recorded} in their ARNs. Start with --region {recorded} (or "
            f"SQUALL_REGION={recorded}) to serve it, or choose a new folder with --data to run as {region}")


def describe_bind_error(host: str, port: int, error: OSError) -> str:
    """Describe why the server cannot listen on host:port, with the advice that fits the error."""
    reason = error.strerror or str(error)
    if isinstance(error, socket.gaierror):
        # getaddrinfo found no address: a mistyped IP address or a host name that does not resolve.
        return (f"invalid --host {host!r}: {reason}; use an IP address of this machine, such as 127.0.0.1, "
                "0.0.0.0 (every IPv4 interface) or ::1, or a host name that resolves to one")
    if error.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {host}:{port}: {reason}; --host must be an address of this machine, "
                "such as 127.0.0.1, 0.0.0.0 (every IPv4 interface) or ::1")
    if error.errno == errno.EACCES and 0 < port < 1024:
        return (f"cannot listen on {host}:{port}: {reason}; on Linux, ports below 1024 need root or "
                "CAP_NET_BIND_SERVICE, so choose a port from 1024 up with --port (--port 0 takes a free one)")
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {host}:{port}: {reason}; stop what uses that port, "
                "or choose another with --port (--port 0 takes a free one)")
    return f"cannot listen on {host}:{port}: {reason}; check --host and --port"


def check_address_literal(host: str) -> None:
    """Raise socket.gaierror for a host that is written like an IP address but is not one, without a DNS lookup.

    Digits and dots are read as inet_aton reads them, so a short form such as 127.1 stays valid, as for bind().
    """
    if ":" in host:
        name, _, port = host.rpartition(":")
        if ":" not in name and port.isdigit():
            # "localhost:80" or "127.0.0.1:80": a port written into the host, where an IPv6 address has two colons or more.
            raise socket.gaierror(socket.EAI_NONAME, f"a host without a port is expected; give the port with --port {port}")
        try:
            # A link-local address may end with its zone, such as "%eth0", which inet_pton does not read.
            socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "not a valid IPv6 address") from None
    elif host and all(character.isdigit() or character == "." for character in host):
        try:
            socket.inet_aton(host)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "not a valid IPv4 address") from None


def bind(host: str, port: int) -> socket.socket:
    check_address_literal(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, data: Path = Path(".squall"),
          memory_budget_mb: int | None = None, watch: bool = True, retention: RetentionPolicy | None = None,
          stage: str | None = None, config_env: str | None = None, deploy: bool = True,
          parameter_overrides: Mapping[str, str] | None = None, region: str = DEFAULT_REGION) -> int:
    """Run the server until SIGINT or SIGTERM; return the process exit code.

    Without `deploy`, the server serves only the services the data folder's
    last run deployed, and `folder` is not read. `region` is the AWS region
    the server runs as, which must be the one the data folder was first served as.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(folder.resolve(), host, port, data.resolve(), memory_budget_mb, watch,
                                 retention or RetentionPolicy(), stage, config_env, deploy, parameter_overrides,
                                 region))


async def _serve(folder: Path, host: str, port: int, data: Path, memory_budget_mb: int | None, watch: bool,
                 retention: RetentionPolicy, stage: str | None = None, config_env: str | None = None,
                 deploy: bool = True, parameter_overrides: Mapping[str, str] | None = None,
                 region: str = DEFAULT_REGION) -> int:
    # Manifests loaded in this process, the first deploy's too, resolve ${aws:region} and AWS::Region to it.
    try:
        set_server_region(region)
    except ValueError as error:
        print(f"squall: --region: {error}", file=sys.stderr)
        return 2
    # The folder is deployed from this shell, so its ${env:} values are kept as
    # `squall deploy` would send them, and a restart elsewhere resolves the same.
    try:
        variables: DeployVariables | None = None
        if deploy:
            variables = deploying_shell_variables(
                find_manifest(folder), stage, config_env=config_env, parameter_overrides=parameter_overrides
            )
    except ManifestError:
        variables = None  # the deploy below reports the missing manifest
    except InvalidVariables as error:
        print(f"squall: {error.option}: {error}", file=sys.stderr)
        return 2
    # Bind first, so that a port in use stops the start before anything is written,
    # and instances started by the first deploy know the server's address.
    try:
        sock = bind(host, port)
    except OSError as error:
        print(f"squall: {describe_bind_error(host, port, error)}", file=sys.stderr)
        return 2
    bound_port = sock.getsockname()[1]
    # Instances reach the server on a loopback socket of their own, which stays open while the
    # server stops, so that a call in its grace period can still use the SDK and the Lambda API.
    try:
        inner_sock = bind(INNER_HOST, 0)
    except OSError as error:
        sock.close()
        print(f"squall: {describe_bind_error(INNER_HOST, 0, error)}", file=sys.stderr)
        return 2
    inner_endpoint = local_endpoint(INNER_HOST, inner_sock.getsockname()[1])

    # Logs, records and secrets live here: a new data folder is the owner's alone.
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        sock.close()
        inner_sock.close()
        print(f"squall: cannot create the data folder {data}: {error.strerror or error}; {DATA_FOLDER_FIX}",
              file=sys.stderr)
        return 2
    _make_private(data)
    try:
        data_lock = lock_data_folder(data)
    except OSError as error:
        sock.close()
        inner_sock.close()
        print(f"squall: cannot write in the data folder {data}: {error.strerror or error}; {DATA_FOLDER_FIX}",
              file=sys.stderr)
        return 2
    if data_lock is None:
        sock.close()
        inner_sock.close()
        return 2
    try:
        region_problem = check_data_region(data, region)
    except OSError as error:
        region_problem = f"cannot read or write {data / REGION_FILE}: {error.strerror or error}; {DATA_FOLDER_FIX}"
    if region_problem is not None:
        sock.close()
        inner_sock.close()
        os.close(data_lock)
        print(f"squall: {region_problem}", file=sys.stderr)
        return 2
    try:
        token = None if is_loopback(host) else load_or_create_token(data)
    except TokenFileError as error:
        print(f"squall: {error}", file=sys.stderr)
        return 2

    # Open the secret store; a malformed or wrong key stops the start with its message.
    try:
        secret_store = open_secret_store(data)
    except SecretKeyError as error:
        print(f"squall: {error}", file=sys.stderr)
        return 2

    # Tracing: on only when an OTLP endpoint variable is set; the SDK is imported only then.
    from squall.observability import tracing

    tracing.configure_from_environment()

    # Open the store and start the dispatcher.
    store = SqliteStore(data / "squall.db")
    store.start()
    settings = NodeSettings(data_dir=data, region=region, endpoint=inner_endpoint, token=token)
    if memory_budget_mb is not None:
        settings = dataclasses.replace(settings, memory_budget_mb=memory_budget_mb)
    metrics: Metrics | None = None

    def on_record(record: InvocationRecord) -> None:
        store.add_record(record)
        if metrics is not None:
            metrics.observe(record)

    def on_log(entry: LogEntry) -> None:
        store.add_log(entry)
        # One substring search for output without EMF documents; only output with "_aws" is parsed.
        if metrics is not None and EMF_MARKER in entry.text:
            metrics.observe_log(entry)

    dispatcher = Dispatcher(settings, on_record, on_log)
    dispatcher.secrets = secret_store
    version_store = VersionStore(data / "versions.db")
    dispatcher.versions = version_store
    dispatcher.start()
    async_invoker = AsyncInvoker(dispatcher, AsyncStore(data / "async.db"), async_settings_from_environment())
    hub = ServiceHub(data / "services", settings.region, settings.account_id)
    sweep_interval = sweep_interval_from_environment()
    async_invoker.queue_sender = hub_queue_sender(hub)
    scheduler = Scheduler(data / "schedules.db", async_invoker.accept, region=settings.region,
                          account=settings.account_id)
    platform = Platform(dispatcher, store, DEFAULT_PRICES, Router([]), async_invoker, hub,
                        QueueTriggers(hub, dispatcher), ObjectTriggers(hub, async_invoker),
                        RecordTriggers(hub, dispatcher, async_invoker), scheduler, secrets=secret_store,
                        versions=version_store)
    metrics = Metrics(platform)
    # Served from before the first deploy, so that an instance's init can already use the SDK.
    inner_server = _InnerServer(_server_config(GatewayApp(platform, token, metrics)))
    inner_task = asyncio.create_task(inner_server.serve(sockets=[inner_sock]))

    try:
        # Deploy the folder; a broken manifest stops the start with its message.
        service: ServiceSpec | None = None
        try:
            if deploy:
                service = await platform.deploy_folder(folder, variables)
        except ManifestError as error:
            print(f"squall: {error}", file=sys.stderr)
            await _print_no_deploy_hint(store, data, host, port, region)
            return 2
        except (SquallError, ValueError) as error:
            print(f"squall: cannot deploy {folder}: {error}", file=sys.stderr)
            await _print_no_deploy_hint(store, data, host, port, region)
            return 2
        await platform.restore(skip={service.service} if service is not None else set())
        if service is None and not dispatcher.services:
            recorded = await asyncio.to_thread(store.services)
            if recorded:
                print(f"squall: --no-deploy: no service of the data folder {data} could be deployed again "
                      f"({', '.join(entry.name for entry in recorded)}); the warnings above say why",
                      file=sys.stderr)
            else:
                print(f"squall: --no-deploy: the data folder {data} has no deployed service to serve; "
                      "start without --no-deploy to deploy the folder", file=sys.stderr)
            return 2
        # Invocations accepted before the last stop run once their functions are deployed again.
        await async_invoker.start()
        platform.schedules_ready = True
        scheduler.update(dispatcher.services)
        await scheduler.start()
        sweeper = asyncio.create_task(hub.sweep_forever(sweep_interval))
        # Provisioned instance time for `squall cost`, and the deletion of old logs and records.
        metering_tasks = [
            asyncio.create_task(ProvisionedSampler(dispatcher, store).run()),
            asyncio.create_task(run_retention(store, retention)),
        ]

        # Serve HTTP on the socket bound above, so that port 0 reports the real port.
        server = _Server(_server_config(GatewayApp(platform, token, metrics)))
        server.on_stop = (platform.begin_stop, platform.queue_triggers.stop_receiving,
                          platform.record_triggers.stop_receiving, async_invoker.stop_starting)
        # From the line below on, a client may stop the server: a signal that
        # comes before uvicorn takes over the handlers stops it gracefully too.
        # uvicorn raises its signal again with these handlers once it has shut
        # down, and then the cleanup below runs instead of the process dying.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, server.handle_exit)
        shown_host = f"[{host}]" if ":" in host else host
        restored = [other for name, other in dispatcher.services.items() if service is None or name != service.service]
        count = sum(len(other.functions) for other in restored)
        if service is None:
            serving = f"{_count(len(restored), 'restored service')} ({_count(count, 'function')})"
        else:
            serving = f"{service.service} ({_count(len(service.functions), 'function')})"
            if restored:
                serving += f" and {_count(len(restored), 'restored service')} ({_count(count, 'function')})"
        watcher = None
        if watch:
            def read_variables() -> DeployVariables:
                return deploying_shell_variables(
                    find_manifest(folder), stage, config_env=config_env, parameter_overrides=parameter_overrides
                )

            watcher = asyncio.create_task(_watch(platform, folder, read_variables))
            # One step of the task sets up the folder's watches (watchfiles does it before its first
            # wait), so a file saved once the address is printed is seen.
            await asyncio.sleep(0)
        print(f"Squall {__version__} serving {serving} on http://{shown_host}:{bound_port} as region {region}",
              flush=True)
        if token:
            print(f"The management and Invoke APIs need the token in {data / 'token'}", flush=True)

        await server.serve(sockets=[sock])
        sweeper.cancel()
        # Cancelling the sampler writes its last partial interval, so wait for it before the store closes.
        for task in metering_tasks:
            task.cancel()
        await asyncio.gather(*metering_tasks, return_exceptions=True)
        if watcher is not None:
            watcher.cancel()
        return 0
    finally:
        # Stop taking asynchronous work, stop the instances, then flush what the store still holds.
        await scheduler.close()
        await platform.object_triggers.close()
        # Asynchronous calls and triggered batches in flight share one grace period.
        await asyncio.gather(
            platform.queue_triggers.close(), platform.record_triggers.close(), async_invoker.close()
        )
        await dispatcher.close()
        # The instances are gone, so nothing needs their socket any more.
        inner_server.should_exit = True
        await asyncio.gather(inner_task, return_exceptions=True)
        inner_sock.close()
        await asyncio.to_thread(hub.close)
        await asyncio.to_thread(store.close)
        secret_store.close()
        version_store.close()
        # Tracing: export the spans still buffered.
        await asyncio.to_thread(tracing.shutdown)
        os.close(data_lock)  # another server may take the folder now
        logger.info("stopped")


async def _print_no_deploy_hint(store: SqliteStore, data: Path, host: str, port: int, region: str) -> None:
    """After a failed deploy, tell how to serve what the data folder deployed before, if it deployed anything.

    The command keeps the address and region the user asked for.
    """
    names = [entry.name for entry in await asyncio.to_thread(store.services)]
    if not names:
        return
    command = f"squall up --no-deploy --data {shlex.quote(str(data))}"
    if host != DEFAULT_HOST:
        command += f" --host {shlex.quote(host)}"
    if port != DEFAULT_PORT:
        command += f" --port {port}"
    if region != DEFAULT_REGION:
        command += f" --region {region}"
    print(f"squall: the data folder contains the previous deploy of {', '.join(names)}: "
          f"`{command}` serves it meanwhile", file=sys.stderr)


async def _watch(
    platform: Platform, folder: Path, read_variables: Callable[[], DeployVariables | None] = lambda: None
) -> None:
    """Redeploy the folder when its manifest or code changes; keep serving on failure.

    `read_variables` returns the deploy variables, read again for each
    redeploy: an edited manifest may name another `${env:}` variable, and an
    edited `.env` file may give one another value.
    """
    data_dir = platform.dispatcher.settings.data_dir
    roots = (folder.absolute(), folder.resolve())

    def relevant(change: watchfiles.Change, path: str) -> bool:
        # Files a deploy leaves out (editors' swap files, .git, caches) change often and deploy nothing.
        if path.startswith(str(data_dir)):
            return False
        changed = Path(path)
        for root in roots:
            if changed.is_relative_to(root):
                relative = changed.relative_to(root)
                return not (is_excluded_path(relative) or _in_data_folder(root, relative))
        return True

    try:
        await _redeploy_on_changes(platform, folder, read_variables, relevant)
    except Exception as error:  # noqa: BLE001 - the server keeps serving without its watcher
        logger.error("watching %s for changes failed, so changes are no longer redeployed: %s; "
                     "deploy with `squall deploy %s`, or restart `squall up`", folder, error, folder)
        raise


def _in_data_folder(root: Path, relative: Path) -> bool:
    """Tell whether `relative`, a path in the service folder `root`, is in or is a Squall server's data folder."""
    parts = relative.parts
    return any((root.joinpath(*parts[:depth]) / DATA_FOLDER_MARKER).exists() for depth in range(1, len(parts) + 1))


async def _redeploy_on_changes(
    platform: Platform,
    folder: Path,
    read_variables: Callable[[], DeployVariables | None],
    relevant: Callable[[watchfiles.Change, str], bool],
) -> None:
    """Deploy `folder` again after each batch of relevant changes, until cancelled."""
    # Folders the server cannot read are skipped, as a deploy leaves them out, instead of stopping the watch.
    batches = watchfiles.awatch(folder, watch_filter=relevant, recursive=True, ignore_permission_denied=True,
                                rust_timeout=int(WATCH_QUIET_S * 1000), yield_on_timeout=True)
    async for changes in settled_changes(batches, WATCH_MAX_WAIT_S):
        if folder in platform.removed_folders:
            logger.info("change in %s: not redeployed, because its service was removed; "
                        "`squall deploy %s` serves it again", folder, folder)
            continue
        names = sorted({Path(p).name for _, p in changes})
        logger.info("change in %s: %s; redeploying", folder, ", ".join(names[:5]))
        try:
            try:
                variables = await asyncio.to_thread(read_variables)
            except ManifestError:
                variables = None  # the deploy reports the missing manifest
            # The deploy logs its outcome: a new revision, or a service that did not change.
            await platform.deploy_folder(folder, variables)
        except InvalidVariables as error:
            logger.error("redeploy failed, the previous version keeps serving: %s: %s", error.option, error)
        except (SquallError, ValueError, OSError) as error:
            logger.error("redeploy failed, the previous version keeps serving: %s", error)


async def settled_changes(
    batches: AsyncIterator[set[tuple[watchfiles.Change, str]]],
    max_wait_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[set[tuple[watchfiles.Change, str]]]:
    """Merge watchfiles' batches until an empty one shows that the folder was quiet, and yield the union.

    watchfiles ends a batch when its set of changed paths stops growing, so a
    file written in chunks gives a batch per chunk. With `yield_on_timeout`,
    it yields an empty batch after its timeout without a change: only that
    shows that the writing is over. Changes that never pause are yielded
    `max_wait_s` after the first.
    """
    pending: set[tuple[watchfiles.Change, str]] = set()
    first_at = 0.0
    async for batch in batches:
        if batch:
            if not pending:
                first_at = clock()
            pending |= batch
            if clock() - first_at < max_wait_s:
                continue
        if pending:
            yield pending
            pending = set()


def _server_config(app: GatewayApp) -> uvicorn.Config:
    """Return the uvicorn settings of the server's sockets."""
    return uvicorn.Config(
        app,
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        # uvicorn's own lines go through the root logger, in the server log's format.
        log_config=None,
        log_level="warning",
        # Squall is the edge server: no proxy in front to trust, and no
        # "server: uvicorn" header, as API Gateway sends none.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


class _InnerServer(uvicorn.Server):
    """The server of the instances' loopback socket, which the main server's stop leaves open.

    It takes no signals: the main server handles them, and this one stops
    once the instances are gone.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Server(uvicorn.Server):
    """uvicorn's server, which logs the stop when the signal arrives, before it waits for calls in flight.

    `on_stop` are called then too, so that event sources start no new work
    while HTTP calls in flight finish.
    """

    on_stop: tuple[Callable[[], None], ...] = ()

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not self.should_exit:
            logger.info(
                "received signal %d: stopping; calls in flight get up to %s s to finish",
                sig, self.config.timeout_graceful_shutdown,
            )
            for stop in self.on_stop:
                stop()
        super().handle_exit(sig, frame)


def _log_route_changes(name: str, previous: ServiceSpec, current: ServiceSpec) -> None:
    """Log the routes a redeploy of service `name` added and removed, as "GET /a -> greet"."""

    def routes(service: ServiceSpec) -> set[str]:
        return {f"{event.method} {event.path} -> {spec.name}" for spec in service.functions.values() for event in spec.http}

    before, after = routes(previous), routes(current)
    if after - before:
        logger.info("service %s: new routes %s", name, ", ".join(sorted(after - before)))
    if before - after:
        logger.info("service %s: removed routes %s", name, ", ".join(sorted(before - after)))


def _count(number: int, noun: str) -> str:
    """Return "1 function" or "3 functions"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
