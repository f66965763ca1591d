"""The UI's flows in headless Chromium against a real ``heron serve`` and real ``heron agent`` processes.

One server for the module, started like a first start (a generated admin password), so the
first test is the operator's first login. Each flow saves screenshots under the module's
temporary directory (printed at the end). Every API call the pages make is recorded, and the
last test checks each against ``/openapi.json``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import RunningServer, banner_path, start_server
from tests.web.browser import CHROMIUM_ARGS, ApiLog, axe_violations, chromium_path, log_in, new_context, undocumented

NEW_PASSWORD = "ui-admin-password-1"
#: Generous deadlines for things that happen over seconds (agent reports every second here).
SLOW_MS = 45_000


@dataclass
class Site:
    server: RunningServer
    generated_password: str
    shots: Path
    log: ApiLog
    agents: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("admin", NEW_PASSWORD), timeout=30)

    def shot(self, page: Page, name: str, *, full: bool = True) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full)

    def start_agent(self, *args: str) -> None:
        out = (self.shots / f"agent-{len(self.agents)}.log").open("wb")
        self.agents.append(
            subprocess.Popen([sys.executable, "-m", "heron", "agent", *args], stdout=out, stderr=subprocess.STDOUT)
        )
        out.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("heron-ui")
    env = {"HERON_ADMIN_PASSWORD": "", "HERON_STATUS_CACHE_SECONDS": "0", "HERON_HOST_OFFLINE_SECONDS": "10"}
    server = start_server(data, env=env)
    banner = banner_path(data).read_text()
    generated = re.search(r"store it now\):\s*\n\s*(\S+)", banner)
    assert generated, banner
    shots = tmp_path_factory.mktemp("ui-screenshots")
    found = Site(server, generated.group(1), shots, ApiLog(server.url), [])
    yield found
    for agent in found.agents:
        agent.terminate()
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(timeout=10)
    server.stop()
    print(f"\nUI screenshots: {shots}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


#: The admin's session per server, logged in once: logins are limited to 10 a minute per address,
#: and the flows below open more pages than that when the machine is quick.
_SESSIONS: dict[str, dict[str, object]] = {}


def admin_page(site: Site, browser: Browser, *, scheme: str = "light", **options: object) -> Page:
    if site.url not in _SESSIONS:
        first = new_context(browser, site.log)
        log_in(first, "admin", NEW_PASSWORD)
        _SESSIONS[site.url] = dict(first.storage_state())
        first.close()
    return new_context(browser, site.log, scheme=scheme, storage_state=_SESSIONS[site.url], **options).new_page()


def test_the_first_login_asks_for_a_new_password(site: Site, browser: Browser) -> None:
    context = new_context(browser, site.log)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/servers$"))  # guests may look (force_auth is off)
    page.get_by_role("link", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fservers$"))
    site.shot(page, "01-login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(site.generated_password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/welcome$"))
    expect(page.get_by_role("heading", name="Choose your own password")).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_count(0)  # just typed: not asked again
    page.goto("/servers")  # nothing else opens until the password is changed
    expect(page).to_have_url(re.compile(r"/welcome$"))
    site.shot(page, "02-first-start")
    page.get_by_label("Current password").fill(site.generated_password)  # after a reload it is asked
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/servers$"))
    expect(page.get_by_role("heading", name="No servers yet")).to_be_visible()
    site.shot(page, "03-empty-overview")
    assert httpx.get(f"{site.url}/api/v1/profile", auth=("admin", site.generated_password)).status_code == 401
    with site.admin() as admin:
        assert admin.get("/api/v1/profile").json()["data"]["password_change_required"] is False
    context.close()


def test_the_agents_machine_appears_live_and_its_chart_moves(site: Site, browser: Browser) -> None:
    with site.admin() as admin:
        token = admin.post("/api/v1/token", json={"note": "ui agent"}).json()["data"]["token"]
    site.start_agent(
        "--server", site.url, "--token", token, "--interval", "1", "--name", "ui-box", "--agent-id", "ui-box"
    )  # fmt: skip
    page = admin_page(site, browser)
    page.goto("/servers")
    card = page.get_by_role("article").filter(has_text="ui-box")
    expect(card).to_be_visible(timeout=SLOW_MS)
    expect(card.get_by_text("CPU")).to_be_visible()
    expect(page.get_by_role("list", name="Summary")).to_contain_text("1 Online")
    site.shot(page, "04-overview-cards")
    page.get_by_role("radio", name="Table").click()
    expect(page.get_by_role("cell", name="ui-box")).to_be_visible()
    site.shot(page, "05-overview-table")
    page.get_by_role("radio", name="Tiles").click()
    tiles = page.get_by_role("img", name=re.compile(r"1 servers: 1 online"))
    tiles.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[aria-live=polite]")).to_contain_text("ui-box")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="ui-box", level=1)).to_be_visible()
    live = page.get_by_role("img", name="CPU usage, live")
    expect(live).to_be_visible(timeout=SLOW_MS)
    canvas = live.locator("canvas").first
    before = canvas.evaluate("c => c.toDataURL()")
    deadline = time.monotonic() + SLOW_MS / 1000
    while canvas.evaluate("c => c.toDataURL()") == before and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert canvas.evaluate("c => c.toDataURL()") != before, "the live chart did not move"
    deadline = time.monotonic() + SLOW_MS / 1000
    while time.monotonic() < deadline:  # history is written about once a second
        page.reload()
        if page.get_by_role("img", name="CPU (1d)").is_visible(timeout=5_000):
            break
    expect(page.get_by_role("img", name="CPU (1d)")).to_be_visible()
    page.get_by_role("radio", name="7 days").click()
    expect(page.get_by_role("img", name="CPU (7d)")).to_be_visible()
    site.shot(page, "06-server-page")
    page.context.close()


def test_adding_a_server_gives_a_command_that_connects_its_agent(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/servers")
    page.get_by_role("link", name="Add server").click()
    page.get_by_label("Name").fill("ui-added")
    page.get_by_label("Public note").fill("Added from the browser")
    page.get_by_role("button", name="Create server").click()
    command = page.get_by_label("Agent command")
    expect(command).to_contain_text("heron agent --server")
    site.shot(page, "07-add-server-command")
    words = shlex.split(command.inner_text())
    agent_args = words[words.index("agent") + 1 :]
    assert agent_args[:2] == ["--server", site.url] and agent_args[2] == "--secret"
    # Both agents run on this one machine: a distinct id keeps them two servers.
    site.start_agent(*agent_args, "--interval", "1", "--agent-id", "ui-added")
    page.get_by_role("link", name="Open the server").click()
    expect(page.get_by_text("Online", exact=True).first).to_be_visible(timeout=SLOW_MS)
    page.context.close()


def test_a_server_hidden_from_guests_leaves_the_guests_view_and_the_status_page(site: Site, browser: Browser) -> None:
    with site.admin() as admin:
        added = next(s for s in admin.get("/api/v1/server").json()["data"] if s["name"] == "ui-added")
    page = admin_page(site, browser)
    page.goto(f"/servers/{added['id']}/edit")
    page.get_by_label("Hide from visitors").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    site.shot(page, "08-edit-server")
    page.context.close()

    guest = new_context(browser, site.log).new_page()
    guest.goto("/status")
    expect(guest.get_by_text("ui-box")).to_be_visible()
    assert "ui-added" not in guest.content()
    site.shot(guest, "09-status-page-guest")
    guest.goto("/servers")
    expect(guest.get_by_role("article").filter(has_text="ui-box")).to_be_visible(timeout=SLOW_MS)
    assert guest.get_by_role("article").filter(has_text="ui-added").count() == 0
    guest.goto("/admin/users")
    expect(guest).to_have_url(re.compile(r"/login\?next=%2Fadmin%2Fusers"))
    guest.context.close()


def test_a_sql_query_draws_a_chart_and_downloads_as_csv(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/explore")
    editor = page.get_by_label("SQL")
    expect(page.get_by_role("button", name="server_status", exact=True)).to_be_visible()
    editor.fill("SELECT time, cpu FROM server_st")
    editor.press("End")
    editor.type("a")
    suggestion = page.get_by_role("option", name="server_status")
    expect(suggestion).to_be_visible()
    editor.press("Tab")
    expect(editor).to_have_value("SELECT time, cpu FROM server_status")
    editor.press("End")
    editor.type(" ORDER BY time")
    editor.press("Control+Enter")
    chart = page.get_by_role("img", name="Chart of cpu over time")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas").first).to_be_visible()
    assert "q=SELECT" in page.url  # the address holds the query: a shareable link
    site.shot(page, "10-explore-chart")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert Path(download.value.path()).read_text().splitlines()[0] == "time,cpu"
    shared = page.url
    page.goto(shared)
    expect(page.get_by_role("img", name="Chart of cpu over time")).to_be_visible()
    page.get_by_role("radio", name="Table").click()
    expect(page.get_by_role("columnheader", name="cpu")).to_be_visible()
    page.context.close()


def test_an_api_key_is_created_and_its_qr_code_shown(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/profile/apikeys")
    page.get_by_label("Description").fill("phone")
    page.get_by_role("button", name="Create API key").click()
    qr = page.get_by_role("img", name=re.compile("QR code of the API key"))
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    key = page.get_by_label("The new API key").inner_text().strip()
    site.shot(page, "11-api-key-qr")
    r = httpx.get(f"{site.url}/api/v1/profile", headers={"Authorization": f"X-OITC-API {key}"})
    assert r.status_code == 200 and r.json()["data"]["username"] == "admin"
    page.goto("/profile/tokens")
    page.get_by_label("What it is for").fill("ci")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("The new token").inner_text().strip()
    assert httpx.get(f"{site.url}/api/v1/profile", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    expect(page.get_by_role("cell", name="ci", exact=True)).to_be_visible()
    page.context.close()


def test_admins_manage_users_settings_and_status_pages(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/admin/users")
    page.get_by_label("Username").fill("mia")
    page.get_by_label("Password").fill("mia-password-1")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("cell", name="mia", exact=True)).to_be_visible()
    page.goto("/admin/settings")
    page.get_by_label("Site name").fill("Ops Heron")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Ops Heron")).to_be_visible()
    page.goto("/admin/status-pages")
    page.get_by_role("button", name="New status page").click()
    page.get_by_label("Address").fill("team")
    page.get_by_label("Title").fill("Team status")
    page.get_by_role("checkbox", name="ui-box").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="/status/team")).to_be_visible()
    site.shot(page, "12-admin-status-pages")
    page.goto("/admin/online")
    expect(page.get_by_role("cell", name="admin", exact=True).first).to_be_visible()
    assert httpx.get(f"{site.url}/api/v1/profile", auth=("admin", "not-the-password")).status_code == 401
    page.goto("/admin/waf")
    expect(page.get_by_role("cell", name="127.0.0.1")).to_be_visible()
    expect(page.get_by_role("cell", name="wrong password")).to_be_visible()
    page.context.close()
    member = new_context(browser, site.log)
    log_in(member, "mia", "mia-password-1")
    mia = member.new_page()
    mia.goto("/admin/users")
    expect(mia.get_by_text("This page is for admins.")).to_be_visible()
    assert mia.get_by_role("link", name="Admin").count() == 0
    member.close()
    guest = new_context(browser, site.log).new_page()
    guest.goto("/status/team")
    expect(guest.get_by_role("heading", name="Team status")).to_be_visible()
    expect(guest.get_by_text("ui-box")).to_be_visible()
    guest.context.close()


PAGES = [
    "/servers",
    "/servers?view=table",
    "/servers?view=tiles",
    "/servers/1",
    "/servers/new",
    "/servers/1/edit",
    "/explore?db=public&q=SELECT%20time%2C%20cpu%20FROM%20server_status",
    "/profile",
    "/profile/tokens",
    "/profile/apikeys",
    "/admin/users",
    "/admin/settings",
    "/admin/status-pages",
    "/admin/waf",
    "/admin/online",
    "/status",
    "/status/team",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_any_page(site: Site, browser: Browser, scheme: str) -> None:
    found: dict[str, list[str]] = {}
    guest = new_context(browser, site.log, scheme=scheme).new_page()
    guest.goto("/login")
    guest.get_by_role("button", name="Log in").wait_for()
    found["/login"] = axe_violations(guest)
    guest.context.close()
    page = admin_page(site, browser, scheme=scheme)
    for path in PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.locator("main").first.wait_for()
        page.wait_for_timeout(300)
        if problems := axe_violations(page):
            found[path] = problems
    site.shot(page, f"13-status-page-{scheme}")
    page.goto("/servers/1")
    page.get_by_role("img", name="CPU (1d)").wait_for(timeout=SLOW_MS)
    site.shot(page, f"14-server-page-{scheme}")
    page.context.close()
    bad = {path: problems for path, problems in found.items() if problems}
    assert not bad, bad


def test_the_overview_fits_a_phone_and_speaks_chinese(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser, viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page.goto("/servers")
    expect(page.get_by_role("heading", name="服务器", level=1)).to_be_visible()
    expect(page.get_by_role("article").filter(has_text="ui-box")).to_be_visible(timeout=SLOW_MS)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    site.shot(page, "15-phone-zh-CN")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "跳到正文"
    page.context.close()


def test_every_call_the_ui_made_is_in_the_openapi_document(site: Site) -> None:
    doc = httpx.get(f"{site.url}/openapi.json").json()
    assert len(site.log.calls) >= 10, site.log.calls
    assert ("GET", "/api/v1/ws/server") in site.log.calls
    assert undocumented(site.log.calls, doc) == []
    assert site.log.foreign == [], "requests left the machine"
    assert site.log.challenges == [], "a 401 to the UI carried a Basic challenge"
