"""``widgets-admin``: create organizations, users, memberships, API keys and personal tokens, and
revoke credentials, straight in Redis.

Each command prints one JSON object on stdout and exits 0. Errors print ``{"detail": ...}`` on
stderr and exit 2 (bad input, unknown org/user/scope, nothing to revoke) or 1 (Redis unreachable).
Reads REDIS_URL and REDIS_KEY_PREFIX like the services do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, NoReturn

import msgspec
import redis.exceptions

from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.settings import Settings
from common.timeutil import iso_from_ms, now_ms
from management_service.credential_records import Credential
from management_service.credentials import KNOWN_SCOPES, CredentialStore

_ENC = msgspec.json.Encoder()


class CliError(Exception):
    def __init__(self, detail: str, code: int = 2) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class _Parser(argparse.ArgumentParser):
    """Usage errors come out as JSON too, so scripts can parse every failure the same way."""

    def error(self, message: str) -> NoReturn:
        _fail(CliError(f"{self.prog}: {message}"))


def _fail(error: CliError) -> NoReturn:
    sys.stderr.write(_ENC.encode({"detail": error.detail}).decode() + "\n")
    sys.exit(error.code)


def _scopes(raw: str) -> list[str]:
    scopes = sorted({scope.strip() for scope in raw.split(",") if scope.strip()})
    if not scopes:
        raise CliError("at least one scope is required")
    if unknown := [scope for scope in scopes if scope not in KNOWN_SCOPES]:
        raise CliError(
            f"unknown scope(s): {', '.join(unknown)}; valid: {', '.join(sorted(KNOWN_SCOPES))}"
        )
    return scopes


def _expires_at_ms(seconds: int | None) -> int | None:
    if seconds is None:
        return None
    if seconds <= 0:
        raise CliError("--expires-in must be a positive number of seconds")
    return now_ms() + seconds * 1000


def _issued(token: str, credential: Credential) -> dict[str, Any]:
    if credential.kind == "ak":
        owner = {"org_id": credential.org_id}
    else:
        owner = {"user_id": credential.user_id}
    expires = credential.expires_at_ms
    return {
        "token": token,
        "id": credential.id,
        **owner,
        "name": credential.name,
        "scopes": credential.scopes,
        "expires_at": None if expires is None else iso_from_ms(expires),
    }


async def _require_org(store: CredentialStore, org_id: str) -> None:
    if not await store.org_exists(org_id):
        raise CliError(f"unknown organization: {org_id}")


async def _require_user(store: CredentialStore, user_id: str) -> None:
    if not await store.user_exists(user_id):
        raise CliError(f"unknown user: {user_id}")


def _record(record: msgspec.Struct) -> dict[str, Any]:
    """A stored record as the JSON object the command prints."""
    fields: dict[str, Any] = msgspec.to_builtins(record)
    return fields


async def _execute(store: CredentialStore, args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "create-org":
        return _record(await store.create_org(args.name))
    if args.command == "create-user":
        return _record(await store.create_user(args.name))
    if args.command == "add-member":
        await _require_org(store, args.org)
        await _require_user(store, args.user)
        await store.add_member(args.org, args.user)
        return {"org_id": args.org, "user_id": args.user}
    if args.command == "create-api-key":
        scopes, expires = _scopes(args.scopes), _expires_at_ms(args.expires_in)
        await _require_org(store, args.org)
        token, credential = await store.issue(
            "ak", scopes, name=args.name, org_id=args.org, expires_at_ms=expires
        )
        return _issued(token, credential)
    if args.command == "create-pat":
        scopes, expires = _scopes(args.scopes), _expires_at_ms(args.expires_in)
        await _require_user(store, args.user)
        token, credential = await store.issue(
            "pat", scopes, name=args.name, user_id=args.user, expires_at_ms=expires
        )
        return _issued(token, credential)
    assert args.command == "revoke"
    if not await store.revoke(args.token_or_id):
        raise CliError("not found")
    return {"revoked": True}


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    client = create_redis(settings)
    try:
        return await _execute(CredentialStore(client, RedisKeys(settings.redis_key_prefix)), args)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise CliError(f"Redis unavailable: {exc}", code=1) from None
    finally:
        await client.aclose()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="widgets-admin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("create-org", help="create an organization").add_argument(
        "--name", required=True
    )
    commands.add_parser("create-user", help="create a user").add_argument("--name", required=True)

    member = commands.add_parser("add-member", help="make a user a member of an organization")
    member.add_argument("--org", required=True)
    member.add_argument("--user", required=True)

    for command, owner, help_ in (
        ("create-api-key", "--org", "issue an organization API key (ak_)"),
        ("create-pat", "--user", "issue a personal access token (pat_)"),
    ):
        sub = commands.add_parser(command, help=help_)
        sub.add_argument(owner, required=True)
        sub.add_argument("--scopes", required=True,
                         help="comma-separated, of: " + ", ".join(sorted(KNOWN_SCOPES)))
        sub.add_argument("--name", default="")
        sub.add_argument("--expires-in", type=int, metavar="SECONDS")

    revoke = commands.add_parser("revoke", help="revoke a key or token by its token or id")
    revoke.add_argument("token_or_id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = asyncio.run(run(args, Settings.from_env("management")))
    except CliError as error:
        _fail(error)
    sys.stdout.write(_ENC.encode(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
