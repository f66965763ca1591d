"""Headless Chromium for the UI tests: Debian's ``chromium`` driven by Playwright, axe-core, and a
recorder of every API call the UI makes (checked against ``/openapi.json`` at the end)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, WebSocket

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: axe-core's impacts that fail a page.
FAILING_IMPACTS = ("serious", "critical")


def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        raise RuntimeError("Debian's chromium is not installed: run `make test-deps`")
    return found


@dataclass
class ApiLog:
    """Every request the pages sent to the server under test, and its 401 answers' headers."""

    base: str
    calls: set[tuple[str, str]] = field(default_factory=set)
    challenges: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if not request.url.startswith(self.base):
            self.foreign.append(request.url)
            return
        if parts.path.startswith("/api/"):
            self.calls.add((request.method, parts.path))

    def response(self, response: Response) -> None:
        if response.status == 401 and "www-authenticate" in response.headers:
            self.challenges.append(response.url)

    def websocket(self, ws: WebSocket) -> None:
        parts = urlsplit(ws.url)
        if f"http://{parts.netloc}" != self.base:
            self.foreign.append(ws.url)
        self.calls.add(("GET", parts.path))

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self.request)
        context.on("response", self.response)
        context.on("page", lambda page: page.on("websocket", self.websocket))


def new_context(browser: Browser, log: ApiLog, *, scheme: str = "light", **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 860})
    context = browser.new_context(base_url=log.base, color_scheme=scheme, **options)  # type: ignore[arg-type]
    log.attach(context)
    return context


def log_in(context: BrowserContext, username: str, password: str) -> None:
    """Log the context in through the API, as the login form does (the cookies land in the context)."""
    r = context.request.post("/api/v1/login", data={"username": username, "password": password})
    assert r.status == 200, r.text()


def undocumented(calls: set[tuple[str, str]], doc: dict[str, Any]) -> list[str]:
    """The calls whose method and path match no operation of the OpenAPI document."""
    patterns = []
    for path, ops in doc["paths"].items():
        regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        patterns.append((regex, {m.upper() for m in ops}))
    return sorted(
        f"{method} {path}"
        for method, path in calls
        if not any(regex.match(path) and method in methods for regex, methods in patterns)
    )


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core findings on the page as it is now."""
    if not AXE.exists():
        raise RuntimeError("axe-core is missing: run `make test-deps` (npm ci in web/)")
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in FAILING_IMPACTS
    ]
