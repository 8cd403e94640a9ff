"""Secrets stay secret: no token, secret or Authorization value reaches a log record or the JSON
log output (access log, errors, 500 tracebacks, Redis outages, the admin CLI), and secrets are
compared in constant time, through ``hmac.compare_digest`` only, with one answer for an unknown
id and a wrong secret."""

from __future__ import annotations

import argparse
import hmac
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import management_service.credentials as credentials_module
from common.ids import new_id
from common.logs import JsonFormatter
from common.redis_process import RedisProcess
from common.settings import Settings
from common.timeutil import now_ms
from management_service import admin
from management_service.credentials import CredentialStore, hash_secret
from management_service.widgets_store import WidgetStore
from tests.support.settings import ALL_SCOPES
from tests.support.widget_helpers import create_widget, expect, make_version


class LogCapture:
    """Every record from every logger at DEBUG, and the same records as JSON log lines."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.setLevel(logging.DEBUG)

    def texts(self) -> list[str]:
        """What each record could reveal: message, arguments, extras, exception, formatted."""
        texts = [self.stream.getvalue()]
        for record in self.caplog.records:
            texts.append(record.getMessage())
            texts.append(repr(vars(record)))
            if record.exc_info:
                texts.append(logging.Formatter().formatException(record.exc_info))
        return texts

    def leaked(self, secrets: list[str]) -> list[tuple[str, str]]:
        return [(secret, text) for text in self.texts() for secret in secrets if secret in text]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[LogCapture]:
    capture = LogCapture(caplog)
    root = logging.getLogger()
    caplog.set_level(logging.DEBUG)
    # Loggers that set their own level would hide records below it: open them all up.
    levels = {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.addHandler(capture.handler)
    try:
        yield capture
    finally:
        root.removeHandler(capture.handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def secrets_of(*tokens: str) -> list[str]:
    """A token, its secret part, and the header that carries it."""
    found: list[str] = []
    for token in tokens:
        found += [token, f"Bearer {token}"]
        if "." in token:
            found.append(token.split(".", 1)[1])
    return found


def test_the_capture_sees_a_leak(logs: LogCapture) -> None:
    """The checker would notice a secret in a message, in arguments and in the JSON output."""
    secret = "ak_" + "a" * 32 + ".s3cr3t-s3cr3t-s3cr3t-s3cr3t"
    logging.getLogger("management_service.test").debug("token %s", secret)
    assert logs.leaked(secrets_of(secret))
    assert secret in logs.stream.getvalue()


async def test_no_secret_in_logs_across_request_outcomes(
    management_client: Any, credentials: CredentialStore, redis: Any, keys: Any,
    redis_proc: RedisProcess, logs: LogCapture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = management_client
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    await credentials.add_member(org.id, user.id)
    key, key_record = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    pat, _ = await credentials.issue("pat", ALL_SCOPES, user_id=user.id)
    revoked, _ = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    assert await credentials.revoke(revoked)
    expired, _ = await credentials.issue("pat", ALL_SCOPES, user_id=user.id,
                                         expires_at_ms=now_ms() - 1)
    corrupt, corrupt_record = await credentials.issue("ak", ALL_SCOPES, org_id=org.id)
    prefix, secret = key.split(".")
    wrong_secret = f"{prefix}.{secret[::-1]}"
    unknown = f"ak_{new_id().replace('-', '')}.{secret}"
    tokens = [key, pat, revoked, expired, corrupt, wrong_secret, unknown]

    ak = {"Authorization": f"Bearer {key}"}
    as_member = {"Authorization": f"Bearer {pat}", "X-Anyreach-Org": org.id}
    pair = await make_version(client, ak, published=True)
    widget = await create_widget(client, as_member, pair)
    path = f"/core/web-widgets/{widget['id']}"

    await expect(await client.get(path, headers=ak), 200)
    await expect(await client.put(path, json={"published": True}, headers=as_member), 200)
    for token in (revoked, expired, wrong_secret, unknown, "ak_short." + secret):
        await expect(await client.get(path, headers={"Authorization": f"Bearer {token}",
                                                     "X-Anyreach-Org": org.id}), 401)
    for header in (f"Basic {key}", key, f"Bearer  {key} trailing", f"Token {pat}"):
        await expect(await client.get(path, headers={"Authorization": header}), 401)
    await expect(await client.get(path, headers={"Authorization": f"Bearer {pat}"}), 401)
    await expect(await client.get(path, headers={"Authorization": f"Bearer {pat}",
                                                 "X-Anyreach-Org": new_id()}), 403)
    reader, _ = await credentials.issue("ak", ["agents:read"], org_id=org.id)
    tokens.append(reader)
    await expect(await client.delete(path, headers={"Authorization": f"Bearer {reader}"}), 403)

    # 500 from a corrupt credential record: the traceback passes through verify().
    await redis.set(keys.api_key(corrupt_record.id), b"{not json")
    await expect(await client.get(path, headers={"Authorization": f"Bearer {corrupt}"}), 500)

    # 500 from a handler that raises while the valid credential is in play.
    async def broken(self: WidgetStore, org_id: str, widget_id: str) -> None:
        raise RuntimeError("store exploded")

    monkeypatch.setattr(WidgetStore, "get_json", broken)
    await expect(await client.get(path, headers=ak), 500)
    monkeypatch.undo()

    # 503 while Redis is down.
    redis_proc.stop()
    await expect(await client.get(path, headers=as_member), 503)

    messages = [record.getMessage() for record in logs.caplog.records]
    assert any(m.startswith("unhandled error: GET ") for m in messages), messages
    assert any(m.startswith("redis unavailable: GET ") for m in messages), messages
    assert any(r.name == "aiohttp.access" for r in logs.caplog.records)
    assert '"level":"ERROR"' in logs.stream.getvalue()
    assert key_record.secret_sha256 not in logs.stream.getvalue()
    assert logs.leaked(secrets_of(*tokens)) == []


async def test_no_secret_in_logs_from_the_admin_cli(
    redis_proc: RedisProcess, settings_factory: Any, logs: LogCapture
) -> None:
    settings: Settings = settings_factory("management")
    parser = admin.build_parser()

    async def run(*argv: str) -> dict[str, Any]:
        args: argparse.Namespace = parser.parse_args(list(argv))
        return await admin.run(args, settings)

    org = await run("create-org", "--name", "Acme")
    user = await run("create-user", "--name", "Ann")
    await run("add-member", "--org", org["id"], "--user", user["id"])
    key = await run("create-api-key", "--org", org["id"], "--scopes", "agents:read")
    pat = await run("create-pat", "--user", user["id"], "--scopes", "agents:read",
                    "--expires-in", "60")
    assert await run("revoke", key["token"]) == {"revoked": True}
    assert await run("revoke", pat["id"]) == {"revoked": True}
    with pytest.raises(admin.CliError):
        await run("revoke", key["token"])
    assert logs.leaked(secrets_of(key["token"], pat["token"])) == []


# --- constant-time comparison -------------------------------------------------------------------


_COMPARE_DIGEST = hmac.compare_digest


class CompareSpy:
    """Stands in for ``hmac.compare_digest``: records its arguments, answers ``verdict`` (or the
    real comparison when ``verdict`` is None)."""

    def __init__(self, verdict: bool | None = None) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.verdict = verdict

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return _COMPARE_DIGEST(a, b) if self.verdict is None else self.verdict


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_secrets_are_compared_with_compare_digest(
    credentials: CredentialStore, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    owner = ({"org_id": (await credentials.create_org("Acme")).id} if kind == "ak"
             else {"user_id": (await credentials.create_user("Ann")).id})
    token, record = await credentials.issue(kind, ALL_SCOPES, **owner)  # type: ignore[arg-type]
    prefix, secret = token.split(".")
    wrong = f"{prefix}.{'Z' * len(secret)}"

    spy = CompareSpy()
    monkeypatch.setattr(credentials_module.hmac, "compare_digest", spy)
    assert await credentials.verify(wrong) is None
    assert spy.calls == [(record.secret_sha256, hash_secret("Z" * len(secret)))]

    # compare_digest alone decides: told "equal", a wrong secret passes; told "different",
    # the right one fails. No other comparison of the secret is made.
    monkeypatch.setattr(credentials_module.hmac, "compare_digest", CompareSpy(verdict=True))
    assert (await credentials.verify(wrong)) == record
    monkeypatch.setattr(credentials_module.hmac, "compare_digest", CompareSpy(verdict=False))
    assert await credentials.verify(token) is None


@pytest.mark.parametrize("kind", ["ak", "pat"])
async def test_unknown_id_and_wrong_secret_answer_alike(
    management_client: Any, credentials: CredentialStore, kind: str
) -> None:
    org = await credentials.create_org("Acme")
    user = await credentials.create_user("Ann")
    await credentials.add_member(org.id, user.id)
    owner = {"org_id": org.id} if kind == "ak" else {"user_id": user.id}
    token, _ = await credentials.issue(kind, ALL_SCOPES, **owner)  # type: ignore[arg-type]
    prefix, secret = token.split(".")
    candidates = {
        "wrong secret": f"{prefix}.{'Z' * len(secret)}",
        "unknown id": f"{kind}_{new_id().replace('-', '')}.{secret}",
        "unknown id, wrong secret": f"{kind}_{new_id().replace('-', '')}.{'Z' * len(secret)}",
    }
    answers = {}
    for name, candidate in candidates.items():
        resp = await management_client.get(
            f"/core/agents/{new_id()}",
            headers={"Authorization": f"Bearer {candidate}", "X-Anyreach-Org": org.id}
            if kind == "pat" else {"Authorization": f"Bearer {candidate}"},
        )
        volatile = {"Date", "X-Request-ID"}
        answers[name] = (resp.status, await resp.read(),
                         sorted((k, v) for k, v in resp.headers.items() if k not in volatile))
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    assert answers["unknown id"][0] == 401
