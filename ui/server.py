"""How the app is served on a shared machine: its settings, and what stands in front
of the Gradio app (kd_core.access has the rules; this applies them to HTTP).

- sign-in against the hashed accounts file, with back-off per user name (here) and per
  client address (`_Guard`, which sees the address Gradio's auth callback does not);
- a Host check on a loopback server (a page on another site cannot reach it through a
  DNS name that points at 127.0.0.1), and a cap on request bodies that are not uploads;
- `share` always off, TLS when given, downloads only from inside the projects root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio
import gradio as gr

from kd_core.access import LOCAL_HOSTS
from kd_core.access.accounts import Account, verify_password
from kd_core.access.gate import Gate
from kd_core.access.signin import Backoff
from kd_core.errors import KDError
from kd_core.limits import Limits

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


@dataclass
class ServerSettings:
    """`kd-studio serve`'s settings (each a flag of the same name)."""

    host: str = "127.0.0.1"
    port: int = 7860
    project: str | None = None  # a project under the root to open first
    auth_file: str | None = None  # accounts (kd-studio users add); required off this machine
    projects_root: str = "projects"  # every project the browser names lives under it
    models_dirs: list[str] = field(default_factory=list)  # model folders a page may name besides the projects'
    max_body_kb: int = 1024  # any request that is not an upload
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    limits: Limits = field(default_factory=Limits)  # what one request may cost (kd_core.limits): uploads, queue, ...


def _loopback(host: str) -> bool:
    return host in LOCAL_HOSTS


class _Guard:
    """ASGI middleware: Host check (loopback servers), body size cap, per-address sign-in back-off."""

    def __init__(self, app: Any, settings: ServerSettings, backoff: Backoff):
        self.app, self.settings, self.backoff = app, settings, backoff

    async def _reply(self, send: Any, status: int, message: str, headers: list | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
        await send({"type": "http.response.body", "body": body})

    def _may_download(self, scope: dict, headers: dict, path: str) -> bool:
        """Gradio serves files under its allowed paths (the projects root) to any signed-in
        user; a curator may fetch only those of the projects their account names."""
        from urllib.parse import unquote

        from ui import access

        gate = access.gate()
        target = Path(unquote(path.split("/file=", 1)[1]))
        if gate is None or not target.is_absolute():
            return True
        target = target.resolve()
        if not target.is_relative_to(gate.root):
            return True  # Gradio's own rules: its cache and uploads only
        app = scope.get("app")
        cookies = {}
        for part in headers.get("cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            cookies[k] = v
        cookie_id = getattr(app, "cookie_id", "")
        token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
        user = getattr(app, "tokens", {}).get(token) if token else None
        if not access.has_accounts():  # no accounts: this machine's user owns every project
            return True
        return user is not None and gate.owns(access.caller(user), target)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if _loopback(self.settings.host):
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if name not in LOOPBACK_NAMES:
                if scope["type"] == "websocket":
                    return await send({"type": "websocket.close", "code": 1008})
                return await self._reply(send, 421, "this server answers only to localhost (Host header)")
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if "/file=" in path and not self._may_download(scope, headers, path):
            return await self._reply(send, 403, "not a file of a project you may open")
        size = int(headers.get("content-length") or 0)
        limit = (self.settings.limits.upload_mb * 2**20 + 65536) if "/upload" in path else self.settings.max_body_kb * 1024
        if size > limit:
            return await self._reply(send, 413, f"request too large (at most {limit // 1024} KB here)")
        if path.rstrip("/").endswith("/login") and scope.get("method") == "POST":
            address = "addr:" + (scope.get("client") or ("?",))[0]
            wait = self.backoff.wait_s(address)
            if wait > 0:
                return await self._reply(send, 429, f"too many failed sign-ins: try again in {int(wait) + 1} s",
                                         [(b"retry-after", str(int(wait) + 1).encode())])
            status = {}

            async def watch(message: dict) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                await send(message)

            await self.app(scope, receive, watch)
            if status.get("code") == 200:
                self.backoff.succeeded(address)
            elif status.get("code") in (400, 401):
                self.backoff.failed(address)
            return None
        return await self.app(scope, receive, send)


def sign_in(accounts: dict[str, Account], backoff: Backoff) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's auth callback: the hash checked off the event loop; a user name in
    back-off is refused without checking (a guess costs the server nothing)."""

    async def check(user: str, password: str) -> bool:
        key = "user:" + user
        if backoff.wait_s(key) > 0:
            backoff.failed(key)
            return False
        account = accounts.get(user)
        ok = account is not None and await anyio.to_thread.run_sync(verify_password, password, account.password_hash)
        if account is None:  # spend the same time as a real check: no oracle of which names exist
            await anyio.to_thread.run_sync(verify_password, password, _DUMMY)
        (backoff.succeeded if ok else backoff.failed)(key)
        return ok

    return check


_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def guard_app(app: gr.Blocks, settings: ServerSettings, gate: Gate, accounts: dict[str, Account] | None) -> None:
    """Launch `app` behind the guard (blocks until the server stops)."""
    from starlette.middleware import Middleware

    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise KDError("give both --ssl-certfile and --ssl-keyfile (or neither)")
    for f in (settings.ssl_certfile, settings.ssl_keyfile):
        if f and not Path(f).is_file():
            raise KDError(f"TLS file not found: {f}")
    backoff = Backoff()
    app.launch(
        server_name=settings.host, server_port=settings.port, show_error=True,
        share=False,  # never a public tunnel, whatever GRADIO_SHARE says
        auth=sign_in(accounts, backoff) if accounts else None,
        auth_message="KD Studio: sign in with your account (an admin adds it: kd-studio users add)" if accounts else None,
        max_file_size=f"{settings.limits.upload_mb}mb",
        allowed_paths=[str(gate.root)],  # downloads (results CSV, reports) from inside the projects root only
        ssl_certfile=settings.ssl_certfile, ssl_keyfile=settings.ssl_keyfile,
        app_kwargs={"middleware": [Middleware(_Guard, settings=settings, backoff=backoff)]},
    )
