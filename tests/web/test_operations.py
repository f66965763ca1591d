"""The Operations section and PromQL in Explore, in headless Chromium against a real ``heron serve``
and real ``heron agent`` processes: one that allows exec, terminal and files, one that allows
nothing. Each flow saves screenshots under the module's temporary directory (printed at the end);
every API call the pages make is checked against ``/openapi.json`` by the last test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import RunningServer, start_server
from tests.web.browser import CHROMIUM_ARGS, ApiLog, axe_violations, chromium_path, log_in, new_context, undocumented

PASSWORD = "ops-admin-password-1"
#: Generous deadlines for what happens over seconds (agents report every second here).
SLOW_MS = 45_000


@dataclass
class Site:
    server: RunningServer
    shots: Path
    files: Path
    log: ApiLog
    box_id: int
    plain_id: int

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("admin", PASSWORD), timeout=30)

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


def _online_id(client: httpx.Client, name: str, deadline: float) -> int:
    """The id of the server called ``name`` once it is online (polls the API)."""
    while time.monotonic() < deadline:
        for server in client.get("/api/v1/server").json()["data"]:
            if server["name"] == name and server["online"]:
                return int(server["id"])
        time.sleep(0.5)
    raise AssertionError(f"{name} did not come online")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("heron-ops-ui")
    server = start_server(data, password=PASSWORD, env={"HERON_HOST_OFFLINE_SECONDS": "10"})
    shots = tmp_path_factory.mktemp("ops-screenshots")
    files = tmp_path_factory.mktemp("agent-files")
    (files / "logs").mkdir()
    (files / "logs" / "app.log").write_text("started\n")
    agents: list[subprocess.Popen[bytes]] = []
    try:
        with httpx.Client(base_url=server.url, auth=("admin", PASSWORD), timeout=30) as admin:
            token = admin.post("/api/v1/token", json={"note": "ops ui agents"}).json()["data"]["token"]
            member = {"username": "ops-member", "password": "member-password-1", "role": "member"}
            assert admin.post("/api/v1/user", json=member).status_code == 201
            for name, allow in (
                ("ops-box", ["--allow", "exec,terminal,files", "--files-root", str(files)]),
                ("ops-plain", []),
            ):
                out = (shots / f"agent-{name}.log").open("wb")
                command = [sys.executable, "-m", "heron", "agent", "--server", server.url, "--token", token]
                command += ["--interval", "1", "--name", name, "--agent-id", name, *allow]
                env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
                agents.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env))
                out.close()
            deadline = time.monotonic() + SLOW_MS / 1000
            box_id, plain_id = _online_id(admin, "ops-box", deadline), _online_id(admin, "ops-plain", deadline)
        yield Site(server, shots, files, ApiLog(server.url), box_id, plain_id)
    finally:
        for agent in agents:
            agent.terminate()
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait(timeout=10)
        server.stop()
        print(f"\nOperations UI screenshots: {shots}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def admin_page(site: Site, browser: Browser, *, scheme: str = "light", **options: object) -> Page:
    context = new_context(browser, site.log, scheme=scheme, accept_downloads=True, **options)
    log_in(context, "admin", PASSWORD)
    return context.new_page()


def test_a_cron_task_made_in_the_ui_runs_now_and_shows_its_output(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/operations")
    expect(page.get_by_role("heading", name="No cron tasks yet")).to_be_visible()
    page.get_by_role("button", name="New task").click()
    page.get_by_label("Name").fill("ui-task")
    schedule = page.get_by_label("Schedule")
    schedule.fill("0 0 3 * *")  # five fields: Nezha's schedules have seconds first
    expect(page.get_by_text("expected 6 fields (second minute hour day month weekday), got 5")).to_be_visible()
    expect(schedule).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    schedule.fill("0 61 * * * *")
    expect(page.get_by_text("minute: '61' is not a minute (0-59)")).to_be_visible()
    schedule.fill("0 0 3 * * *")
    expect(schedule).to_have_attribute("aria-invalid", "false")
    page.get_by_label("Command").fill("echo cron-from-ui-$((6*7)); exit 3")
    page.get_by_role("checkbox", name="ops-box").check()
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has_text="ui-task")
    expect(row).to_contain_text("0 0 3 * * *")
    expect(row).to_contain_text("ops-box")
    page.get_by_role("button", name="Run now: ui-task").click()
    run = page.get_by_role("article", name="Run on ops-box")
    expect(run).to_contain_text("cron-from-ui-42", timeout=SLOW_MS)  # the shell ran it: 6*7 was computed
    expect(run).to_contain_text("failed")
    expect(run.locator("code")).to_have_text("3")
    expect(row.get_by_role("time")).to_be_visible()  # the list follows: its last run is this one
    expect(row).to_contain_text("failed")
    site.shot(page, "01-cron-run")
    with site.admin() as admin:
        task = admin.get("/api/v1/cron").json()["data"]["value"][0]
    assert (task["name"], task["scheduler"], task["servers"]) == ("ui-task", "0 0 3 * * *", [site.box_id])
    with site.admin() as admin:
        group = admin.post("/api/v1/notification-group", json={"name": "cron watchers", "notifications": []})
        group_id = group.json()["data"]
    page.get_by_role("button", name="Edit ui-task").click()  # an edit keeps the task and changes it
    page.get_by_label("Command").fill("echo changed")
    page.get_by_label("Notify", exact=True).select_option(label="cron watchers")
    page.get_by_role("checkbox", name="Also notify about successful runs").check()
    site.shot(page, "01b-cron-form-group")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text="ui-task")).to_contain_text("echo changed")
    with site.admin() as admin:
        task = admin.get("/api/v1/cron").json()["data"]["value"][0]
    assert (task["notification_group_id"], task["push_successful"]) == (group_id, True)
    page.get_by_role("button", name="New task").click()
    page.get_by_label("Name").fill("ui-on-alert")
    page.get_by_label("Kind").select_option(label="Run by alert rules")
    expect(page.get_by_label("Schedule")).to_have_count(0)  # a triggered task has no schedule
    page.get_by_label("Runs on").select_option(label="The server whose alert fired")
    page.get_by_label("Command").fill("echo fired")
    page.get_by_label("Notify", exact=True).select_option(label="cron watchers")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text="ui-on-alert")).to_be_visible()
    with site.admin() as admin:
        made = next(t for t in admin.get("/api/v1/cron").json()["data"]["value"] if t["name"] == "ui-on-alert")
    assert (made["task_type"], made["cover"], made["notification_group_id"]) == (1, 2, group_id)
    page.context.close()


def test_a_terminal_opened_in_the_ui_runs_echo(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.url) if "/assets/chunk-" in r.url else None)
    page.goto(f"/operations/terminal?server={site.plain_id}")
    expect(page.get_by_role("heading", name="The agent of ops-plain does not allow terminals")).to_be_visible()
    expect(page.get_by_text("heron agent --allow terminal")).to_be_visible()
    site.shot(page, "02-terminal-not-allowed")
    page.get_by_label("Server").select_option(str(site.box_id))
    assert chunks == [], "xterm was loaded before a terminal was opened"
    page.get_by_role("button", name="Open terminal").click()
    terminal = page.get_by_test_id("terminal")
    expect(terminal.locator(".xterm-rows")).to_be_visible(timeout=SLOW_MS)
    page.get_by_label("Terminal input on ops-box").focus()
    page.keyboard.type("echo term-$((40+2))\n")
    expect(terminal.locator(".xterm-rows")).to_contain_text("term-42", timeout=SLOW_MS)
    site.shot(page, "03-terminal")
    assert len(chunks) == 1, chunks  # the lazy chunk, fetched on the first open
    page.keyboard.press("Shift+Escape")  # the way out of the terminal for keyboard users
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("The session ended.")).to_be_visible()
    page.context.close()


def test_a_file_uploaded_in_the_ui_is_listed_and_downloads_byte_exact(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    payload = os.urandom(700_000) + bytes(range(256))
    source = tmp_path / "upload.bin"
    source.write_bytes(payload)
    page = admin_page(site, browser)
    page.goto(f"/operations/files?server={site.box_id}")
    expect(page.get_by_role("button", name="logs/")).to_be_visible(timeout=SLOW_MS)
    page.get_by_role("button", name="logs/").click()
    expect(page.get_by_role("cell", name="app.log", exact=True)).to_be_visible()
    page.get_by_label("File to upload").set_input_files(str(source))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("cell", name="upload.bin", exact=True)).to_be_visible(timeout=SLOW_MS)
    expect(page.get_by_role("progressbar", name="Uploaded upload.bin")).to_be_visible()
    assert (site.files / "logs" / "upload.bin").read_bytes() == payload
    with page.expect_download() as download:
        page.get_by_role("button", name="Download upload.bin").click()
    assert Path(download.value.path()).read_bytes() == payload
    assert download.value.suggested_filename == "upload.bin"
    expect(page.get_by_role("progressbar", name="Downloaded upload.bin")).to_be_visible()
    site.shot(page, "04-files")
    page.get_by_role("button", name="Parent directory").click()
    expect(page.get_by_role("button", name="logs/")).to_be_visible()
    page.context.close()


def test_a_promql_query_completes_names_and_draws_a_chart(site: Site, browser: Browser) -> None:
    with site.admin() as admin:  # a dozen reports, so the range query has a line to draw
        deadline = time.monotonic() + SLOW_MS / 1000
        query = {"query": 'count_over_time(heron_server_cpu{server="ops-box"}[15m])'}
        while time.monotonic() < deadline:
            result = admin.get("/api/v1/query", params=query).json()["data"]["result"]
            if result and float(result[0]["value"][1]) >= 12:
                break
            time.sleep(0.5)
    page = admin_page(site, browser)
    page.goto("/explore")
    page.get_by_role("radio", name="PromQL").click()
    editor = page.get_by_label("PromQL", exact=True)
    editor.press_sequentially("heron_server_cp")  # typing asks for completions
    page.get_by_role("option", name="heron_server_cpu", exact=True).click()
    expect(editor).to_have_value("heron_server_cpu")
    editor.press_sequentially("{ser")
    expect(page.get_by_role("option", name="server", exact=True)).to_be_visible()
    editor.press("Tab")
    editor.press_sequentially('="ops-b')
    expect(page.get_by_role("option", name="ops-box")).to_be_visible()
    editor.press("Tab")
    editor.press_sequentially('"}')
    expect(editor).to_have_value('heron_server_cpu{server="ops-box"}')
    page.get_by_label("Range").select_option("15m")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("heading", name="1 series")).to_be_visible(timeout=SLOW_MS)
    chart = page.get_by_role("img", name=re.compile(r'Chart of heron_server_cpu\{.*server="ops-box"'))
    expect(chart).to_be_visible()
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"lang=promql.*range=15m.*q=heron_server_cpu"))
    site.shot(page, "05-promql-chart")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "series,time,value" and len(lines) >= 3 and 'server=""ops-box""' in lines[1]
    page.get_by_role("radio", name="Table").click()
    expect(page.get_by_role("cell", name=re.compile('server="ops-box"'))).to_be_visible()
    page.get_by_label("Range").select_option("instant")  # one value per series, as a table
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("radio", name="Chart")).to_have_count(0)
    expect(page.get_by_role("cell", name=re.compile('server="ops-box"'))).to_be_visible()
    expect(page).to_have_url(re.compile(r"range=instant"))
    page.goto("/explore?lang=promql&range=15m&q=" + "sum(heron_server_cpu)")  # a shared link runs its query
    expect(page.get_by_role("heading", name="1 series")).to_be_visible(timeout=SLOW_MS)
    page.get_by_label("PromQL", exact=True).fill("sum(")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("alert")).to_be_visible()  # the parser's words, not a blank page
    page.context.close()


def test_nat_ddns_and_the_audit_log(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser)
    page.goto("/operations/nat")
    expect(page.get_by_role("heading", name="No NAT mappings yet")).to_be_visible()
    page.get_by_role("button", name="New mapping").click()
    page.get_by_label("Name").fill("web-app")
    page.get_by_label("Target (host:port)").fill("127.0.0.1:8080")
    page.get_by_label("Domain").fill("127.0.0.1")  # Heron's own name: refused with the field named
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("domain:")
    page.get_by_label("Domain").fill("app.example.test")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text="web-app")).to_contain_text("app.example.test")
    site.shot(page, "06-nat")
    page.goto("/operations/ddns")
    expect(page.get_by_role("heading", name="No DDNS profiles yet")).to_be_visible()
    page.get_by_role("button", name="New profile").click()
    page.get_by_label("Name").fill("home")
    page.get_by_label("Provider").select_option("cloudflare")
    page.get_by_label("Domains").fill("home.example.com, nas.example.com")
    page.get_by_label("API token").fill("cf-secret-token")
    site.shot(page, "06-ddns-form")
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has_text="home")
    expect(row).to_contain_text("home.example.com, nas.example.com")
    expect(row).to_contain_text("cloudflare")
    page.get_by_role("button", name="Edit home").click()
    expect(page.get_by_label("API token")).to_have_value("********")  # masked, never shown back
    page.get_by_role("button", name="Cancel").click()
    page.goto("/operations/audit")
    table = page.get_by_role("table")
    expect(table).to_contain_text("nat.create")
    expect(table).to_contain_text("terminal.start")
    page.get_by_label("Action").fill("cron.")
    expect(table).to_contain_text("cron.run")
    expect(table).not_to_contain_text("nat.create")
    page.get_by_label("Outcome").select_option("failed")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the run that exited 3
    page.get_by_label("Who").select_option(label="ops-member")  # the member did nothing
    expect(page.get_by_role("heading", name="Nothing matches")).to_be_visible()
    page.get_by_label("Who").select_option(label="admin")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)
    site.shot(page, "06-audit-filtered")
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_problem_on_the_new_pages(site: Site, browser: Browser, scheme: str) -> None:
    page = admin_page(site, browser, scheme=scheme)
    pages = {
        "/operations/cron": "ui-task",
        f"/operations/terminal?server={site.plain_id}": "does not allow terminals",
        f"/operations/files?server={site.box_id}": "logs/",
        "/operations/ddns": "home",
        "/operations/nat": "web-app",
        "/operations/audit": "cron.run",
        "/explore?lang=promql&range=15m&q=heron_server_cpu": "series",
    }
    for path, text in pages.items():
        page.goto(path)
        expect(page.get_by_text(text).first).to_be_visible(timeout=SLOW_MS)
        if path == "/operations/cron":
            page.get_by_role("button", name="New task").click()
            expect(page.get_by_label("Notify", exact=True)).to_be_visible()
            assert axe_violations(page) == [], f"the cron form in the {scheme} theme"
            page.get_by_role("button", name="Cancel").click()
            page.get_by_role("button", name="Runs of ui-task").click()
            expect(page.get_by_role("article", name="Run on ops-box").first).to_be_visible()
        assert axe_violations(page) == [], f"{path} in the {scheme} theme"
    page.goto(f"/operations/terminal?server={site.box_id}")
    page.get_by_role("button", name="Open terminal").click()
    expect(page.get_by_test_id("terminal").locator(".xterm-rows")).to_be_visible(timeout=SLOW_MS)
    assert axe_violations(page) == [], f"the open terminal in the {scheme} theme"
    site.shot(page, f"07-terminal-{scheme}")
    page.context.close()


def test_a_member_sees_no_audit_log(site: Site, browser: Browser) -> None:
    context = new_context(browser, site.log)
    log_in(context, "ops-member", "member-password-1")
    page = context.new_page()
    page.goto("/operations/cron")
    expect(page.get_by_role("heading", name="No cron tasks yet")).to_be_visible()  # the admin's task is not theirs
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
    page.goto("/operations/terminal")
    expect(page.get_by_role("heading", name="No servers to operate on")).to_be_visible()
    context.close()


def test_operations_on_a_phone_in_chinese(site: Site, browser: Browser) -> None:
    page = admin_page(site, browser, viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page.goto("/operations/cron")
    expect(page.get_by_role("heading", name="计划任务")).to_be_visible()
    page.get_by_role("button", name="ui-task 的执行记录").click()
    expect(page.get_by_role("article", name="在 ops-box 上的执行").first).to_contain_text("cron-from-ui-42")
    site.shot(page, "08-phone-zh-CN-cron")
    sideways = "document.documentElement.scrollWidth <= 391"  # a phone widens its viewport to fit: not innerWidth
    assert page.evaluate(sideways), "the cron page scrolls sideways (its table should scroll in its card)"
    page.goto(f"/operations/files?server={site.box_id}")
    expect(page.get_by_role("heading", name="ops-box 上的文件")).to_be_visible(timeout=SLOW_MS)
    site.shot(page, "09-phone-zh-CN-files")
    assert page.evaluate(sideways), "the files page scrolls sideways"
    page.context.close()


def test_a_task_deleted_in_the_ui_is_gone(site: Site, browser: Browser) -> None:
    with site.admin() as admin:
        form = {"name": "doomed", "scheduler": "@hourly", "command": "true", "servers": [site.box_id]}
        task_id = admin.post("/api/v1/cron", json=form).json()["data"]
    page = admin_page(site, browser)
    page.goto("/operations/cron")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete doomed").click()
    expect(page.get_by_role("row").filter(has_text="doomed")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="ui-task")).to_have_count(1)
    with site.admin() as admin:
        assert task_id not in [t["id"] for t in admin.get("/api/v1/cron").json()["data"]["value"]]
    page.context.close()


def test_the_pages_called_only_documented_routes(site: Site) -> None:
    doc = httpx.get(f"{site.url}/openapi.json").json()
    assert site.log.calls, "no API call was recorded"
    assert undocumented(site.log.calls, doc) == []
    assert site.log.foreign == []
    assert site.log.challenges == []
    called = {path for _, path in site.log.calls}
    for needed in (
        "/api/v1/cron",
        "/api/v1/terminal",
        "/api/v1/file",
        "/api/v1/audit",
        "/api/v1/query_range",
        "/api/v1/labels",
    ):
        assert needed in called, needed
    assert any(p.startswith("/api/v1/ws/terminal/") for p in called)
    assert any(p.startswith("/api/v1/ws/file/") for p in called)
