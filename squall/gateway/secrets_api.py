"""The secrets routes of the management API.

    POST /_squall/api/secrets/set     {"name": NAME, "value": VALUE}
    POST /_squall/api/secrets/delete  {"name": NAME}
    GET  /_squall/api/secrets         names and update times, never values

A value arrives only in a request body and is never returned, logged or put
in an error message. Setting a secret deploys again, from their folders, the
services whose functions reference it, because a function's environment is
fixed in its zygote at deploy: the new pools' instances get the new value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from squall.dispatcher.dispatcher import LATEST
from squall.errors import SquallError
from squall.gateway.http import BodyTooLarge, Receive, read_body
from squall.secrets.errors import (
    InvalidSecretName,
    InvalidSecretValue,
    SecretError,
    SecretInUse,
    SecretKeyError,
    SecretNotFound,
)
from squall.manifest.spec import FunctionSpec
from squall.manifest.validate import environment_size_problem
from squall.secrets.references import check_secret_name, environment_references, resolve_environment

if TYPE_CHECKING:
    from squall.secrets.store import SecretStore
    from squall.server import Platform

logger = logging.getLogger(__name__)

# A value is at most 64 KiB; JSON escapes can make it several times longer.
MAX_BODY_BYTES = 1024 * 1024

Route = Callable[[dict[str, str], Receive], Awaitable[tuple[int, Any]]]

_STATUS = {
    InvalidSecretName: 400,
    InvalidSecretValue: 400,
    SecretNotFound: 404,
    SecretInUse: 409,
    SecretKeyError: 500,
}


class SecretsApi:
    """Handlers for the secrets routes, in the management API's form: (query, receive) -> (status, JSON)."""

    def __init__(self, store: SecretStore, platform: Platform) -> None:
        self._store = store
        self._platform = platform

    def routes(self) -> dict[tuple[str, str], Route]:
        """Return the routes keyed as the management API keys its own: (method, path after /_squall/api/)."""
        return {
            ("GET", "secrets"): self.list_secrets,
            ("POST", "secrets/set"): self.set_secret,
            ("POST", "secrets/delete"): self.delete_secret,
        }

    async def list_secrets(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        try:
            secrets = await asyncio.to_thread(self._store.list)
        except SecretError as error:
            return _error_response(error)
        return 200, {"secrets": [{"name": info.name, "updated_at": info.updated_at} for info in secrets]}

    async def set_secret(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        request = await _read_request(receive, "set", '{"name": "NAME", "value": "VALUE"}')
        if isinstance(request, tuple):
            return request
        name, value = request.get("name"), request.get("value")
        try:
            if isinstance(name, str) and isinstance(value, str):
                await self._check_environment_sizes(name, value)
            info, created = await asyncio.to_thread(self._store.set, name, value)  # type: ignore[arg-type]
        except SecretError as error:
            return _error_response(error)
        logger.info("secret %s %s", info.name, "created" if created else "updated")

        redeployed, failures = await self._redeploy_users(info.name)
        return 200, {
            "name": info.name,
            "created": created,
            "updated_at": info.updated_at,
            "redeployed": redeployed,
            "redeploy_errors": failures,
        }

    async def delete_secret(self, query: dict[str, str], receive: Receive) -> tuple[int, Any]:
        request = await _read_request(receive, "delete", '{"name": "NAME"}')
        if isinstance(request, tuple):
            return request
        name = request.get("name")
        try:
            check_secret_name(name)
            users = [function for functions in self._users(name).values() for function in functions]
            versions = await self._version_users(name)
            if users or versions:
                raise SecretInUse(str(name), users, versions)
            await asyncio.to_thread(self._store.delete, name)  # type: ignore[arg-type]
        except SecretError as error:
            return _error_response(error)
        logger.info("secret %s deleted", name)
        return 200, {"name": name}

    def _users(self, name: object) -> dict[str, list[str]]:
        """Return the deployed functions whose environment references secret `name`, by service."""
        users: dict[str, list[str]] = {}
        for service in self._platform.dispatcher.services.values():
            for spec in service.functions.values():
                if name in environment_references(spec.environment):
                    users.setdefault(service.service, []).append(spec.name)
        return users

    async def _version_users(self, name: object) -> list[str]:
        """Return the published versions ("function:3") of deployed functions whose environment references `name`."""
        return [label for label, _ in await self._version_specs(name)]

    async def _check_environment_sizes(self, name: str, value: str) -> None:
        """Raise InvalidSecretValue when `value` would take a user's environment past Lambda's 4 KB.

        Deploys and restarts check the limit with the values filled in, so a
        value past it would leave the service unable to start again.
        """
        users = [
            (spec.name, spec)
            for service in self._platform.dispatcher.services.values()
            for spec in service.functions.values()
            if name in environment_references(spec.environment)
        ]
        users += await self._version_specs(name)
        lookup = _ReplacedSecret(self._store, name, value)

        def check() -> None:
            # Other secrets are read from the store, so off the event loop.
            for label, spec in users:
                try:
                    variables = resolve_environment(spec.name, spec.environment, lookup)
                except SecretNotFound:
                    continue  # another secret it references is missing, which its deploy reports
                problem = environment_size_problem(variables)
                if problem is not None:
                    raise InvalidSecretValue(
                        f"secret {name!r} is not changed: with the new value, function {label}: {problem}"
                    )

        await asyncio.to_thread(check)

    async def _version_specs(self, name: object) -> list[tuple[str, FunctionSpec]]:
        """Return the published versions of deployed functions whose environment references `name`, with their specs."""
        store = self._platform.versions
        if store is None:
            return []
        functions = [spec.name for service in self._platform.dispatcher.services.values() for spec in service.functions.values()]

        def scan() -> list[tuple[str, FunctionSpec]]:
            users: list[tuple[str, FunctionSpec]] = []
            for function in functions:
                for published in store.versions(function):
                    try:
                        spec = store.load(function, str(published.version)).functions[function]
                    except (SquallError, OSError, KeyError) as error:
                        logger.warning("cannot read version %d of %s to look for secret %s: %s",
                                       published.version, function, name, error)
                        continue
                    if name in environment_references(spec.environment):
                        users.append((f"{function}:{published.version}", spec))
            return users

        return await asyncio.to_thread(scan)

    async def _redeploy_users(self, name: str) -> tuple[list[str], dict[str, str]]:
        """Deploy again each service that references `name`; return those deployed and the errors of the others.

        A service whose deploy fails keeps serving its previous version, whose
        instances keep the old value.
        """
        redeployed: list[str] = []
        failures: dict[str, str] = {}
        for service in self._users(name):
            # The deployed version again, not the folder: edits that were never deployed stay out.
            try:
                await self._platform.redeploy(service)
            except (SquallError, ValueError, OSError) as error:
                logger.warning("secret %s changed, but service %s could not be deployed again: %s", name, service, error)
                failures[service] = str(error)
                continue
            logger.info("secret %s changed: deployed service %s again", name, service)
            redeployed.append(service)
        # Published versions may use the secret where $LATEST no longer does. Their
        # instances stop, and the next call starts them with the new value.
        dispatcher = self._platform.dispatcher
        for pool in dispatcher.running_pools():
            version = pool.settings.version
            if version != LATEST and name in environment_references(pool.spec.environment):
                dispatcher.retire_version(pool.spec.name, version)
                logger.info("secret %s changed: stopped the instances of version %s of %s", name, version, pool.spec.name)
        return redeployed, failures


async def _read_request(receive: Receive, operation: str, form: str) -> dict[str, Any] | tuple[int, Any]:
    """Return the JSON object of a request body, or the 400 response that describes why it is not one."""
    try:
        body = await read_body(receive, MAX_BODY_BYTES)
    except BodyTooLarge:
        return 400, _error("InvalidParameterValue", f"secret {operation} request exceeds {MAX_BODY_BYTES} bytes")
    try:
        request = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        # The decoder's message quotes the text near the error, which may be part of the value.
        return 400, _error("InvalidParameterValue", f"secret {operation} request is not valid JSON; expected {form}")
    if not isinstance(request, dict):
        return 400, _error("InvalidParameterValue", f"secret {operation} request is not a JSON object; expected {form}")
    return request


def _error_response(error: SecretError) -> tuple[int, Any]:
    return _STATUS.get(type(error), 400), _error(type(error).__name__, str(error))


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


class _ReplacedSecret:
    """The secret store as it would read with one secret set to a new value."""

    def __init__(self, store: SecretStore, name: str, value: str) -> None:
        self._store = store
        self._name = name
        self._value = value

    def get(self, name: str) -> str | None:
        return self._value if name == self._name else self._store.get(name)
