"""The Services and Alerts pages in headless Chromium against a real ``heron serve`` and a real
``heron agent``: a monitor made in the UI follows its target down and up, an alert rule made
in the UI (after its preview) fires and is acknowledged, notification methods answer a test,
silences and maintenance windows are made and ended. Screenshots go to the module's temporary
directory; every API call the pages make is checked against ``/openapi.json``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.alerts.receivers import HttpReceiver, http_receiver
from tests.conftest import RunningServer, start_server
from tests.web.browser import CHROMIUM_ARGS, ApiLog, axe_violations, chromium_path, log_in, new_context, undocumented

PASSWORD = "ui-alerting-password-1"
#: Generous deadlines for what happens over seconds (checks every second, agent reports every second).
SLOW_MS = 60_000
FAST = {
    "HERON_HOST_OFFLINE_SECONDS": "5",
    "HERON_ALERT_EVAL_INTERVAL_SECONDS": "1",
    "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2",
}


@dataclass
class Site:
    server: RunningServer
    shots: Path
    log: ApiLog
    agent: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=("admin", PASSWORD), timeout=30)

    def shot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_server(tmp_path_factory.mktemp("heron-ui-alerting"), password=PASSWORD, env=FAST)
    shots = tmp_path_factory.mktemp("ui-alerting-screenshots")
    with httpx.Client(base_url=server.url, auth=("admin", PASSWORD), timeout=30) as c:
        token = c.post("/api/v1/token", json={"note": "ui agent"}).json()["data"]["token"]
    log = (shots / "agent.log").open("wb")
    agent = subprocess.Popen(
        [sys.executable, "-m", "heron", "agent", "--server", server.url, "--token", token, "--interval", "1",
         "--name", "ui-watch", "--agent-id", "ui-watch", "--state-file", str(shots / "agent-id")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    yield Site(server, shots, ApiLog(server.url), agent)
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


@pytest.fixture(scope="module")
def signed_in(site: Site, browser: Browser) -> dict[str, object]:
    """The admin's session cookies, logged in once (logins are limited to 10 a minute)."""
    context = new_context(browser, site.log)
    log_in(context, "admin", PASSWORD)
    state: dict[str, object] = dict(context.storage_state())
    context.close()
    return state


def admin_page(site: Site, browser: Browser, state: dict[str, object], *, scheme: str = "light") -> Page:
    return new_context(browser, site.log, scheme=scheme, storage_state=state).new_page()


def monitor_item(page: Page, name: str) -> Locator:
    return page.get_by_role("listitem").filter(has=page.get_by_role("link", name=name, exact=True))


def test_a_monitor_made_in_the_ui_turns_red_when_its_target_stops_and_green_when_it_is_back(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    page = admin_page(site, browser, signed_in)
    page.goto("/services")
    expect(page.get_by_role("heading", name="No monitors yet")).to_be_visible()
    site.shot(page, "01-services-empty")
    with http_receiver() as target:
        port = target.port
        page.get_by_role("link", name="Add monitor").first.click()
        page.get_by_label("Name").fill("ui-web")
        page.get_by_label("Target").fill(f"127.0.0.1:{port}")
        page.get_by_role("button", name="Create monitor").click()
        # Checked here, in the API's words, before anything is sent.
        refused = f"target: expected a URL starting with http:// or https://, got '127.0.0.1:{port}'"
        expect(page.get_by_text(refused)).to_be_visible()
        assert page.url.endswith("/services/new")
        page.get_by_label("Target").fill(f"http://127.0.0.1:{port}/health")
        page.get_by_label("Interval (seconds)").fill("1")
        page.get_by_label("Timeout (seconds)").fill("2")
        page.get_by_label("Retries before down").fill("0")
        site.shot(page, "02-new-monitor-form")
        page.get_by_role("button", name="Create monitor").click()
        expect(page.get_by_role("heading", name="ui-web", level=1)).to_be_visible()
        expect(page.get_by_role("cell", name="ui-watch")).to_be_visible(timeout=SLOW_MS)  # the agent is a vantage point
        page.goto("/services")
        item = monitor_item(page, "ui-web")
        expect(item).to_have_attribute("data-state", "up", timeout=SLOW_MS)
        expect(item.get_by_text("Up", exact=True)).to_be_visible()
    # The receiver has stopped: its port refuses connections.
    expect(item).to_have_attribute("data-state", "down", timeout=SLOW_MS)
    expect(item.get_by_text("Down", exact=True)).to_be_visible()
    site.shot(page, "03-services-down")
    again = HttpReceiver(port).start()
    try:
        expect(item).to_have_attribute("data-state", "up", timeout=SLOW_MS)
        page.reload()  # the day bars are read once a minute; the states every few seconds
        bar = item.get_by_role("img", name=re.compile(r"^ui-web: .* up over 90 days"))
        expect(bar).to_be_visible()
        bar.focus()
        page.keyboard.press("End")
        expect(item.locator(".uptime-tip")).to_contain_text("failed checks")
        site.shot(page, "04-services-list")
        item.get_by_role("link", name="ui-web").click()
        incidents = page.locator("section", has=page.get_by_role("heading", name="Recent incidents"))
        # The reason depends on when the check met the closing port (refused, reset, ...): the state does not.
        expect(incidents.get_by_text("Down", exact=True).first).to_be_visible(timeout=SLOW_MS)
        expect(page.get_by_role("img", name="Response time of ui-web (1d)")).to_be_visible(timeout=SLOW_MS)
        site.shot(page, "05-monitor-page")
    finally:
        again.stop()
    page.context.close()


def test_a_push_monitor_shows_its_url_and_a_cron_line(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    page = admin_page(site, browser, signed_in)
    page.goto("/services/new")
    page.get_by_label("Kind").select_option("push")
    expect(page.get_by_label("Target")).to_have_count(0)
    page.get_by_label("Name").fill("ui-backup")
    page.get_by_label("Grace (seconds)").fill("-1")
    page.get_by_role("button", name="Create monitor").click()
    expect(page.get_by_text("options.grace_seconds: expected 0 to 86400 seconds")).to_be_visible()
    page.get_by_label("Grace (seconds)").fill("300")
    page.get_by_role("button", name="Create monitor").click()
    url = page.get_by_label("Push URL")
    expect(url).to_contain_text(f"{site.url}/api/v1/push/")
    cron = page.get_by_label("Cron line").inner_text()
    push = url.inner_text().strip()
    assert f"curl -fsS -m 10 --retry 3 {push}/start;" in cron and cron.endswith(f"{push}/$?")
    assert httpx.get(push).status_code == 200  # the URL shown works as it is
    site.shot(page, "06-push-monitor")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").fill("ui-backup-nightly")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="ui-backup-nightly", level=1)).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"/services$"))
    expect(page.get_by_role("link", name="ui-backup-nightly")).to_have_count(0)
    page.context.close()


def test_an_alert_rule_made_in_the_ui_previews_fires_and_is_acknowledged(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    page = admin_page(site, browser, signed_in)
    page.goto("/alerts")
    expect(page.get_by_role("heading", name="Nothing is firing")).to_be_visible()
    page.get_by_role("link", name="New rule").first.click()
    expect(page).to_have_url(re.compile(r"/alerts/rules/new$"))
    page.get_by_label("Name").fill("ui memory in use")
    page.get_by_label("Condition 1: metric").select_option("memory")
    page.get_by_label("Condition 1: above").fill("1")
    page.get_by_label("Condition 1: for seconds").fill("0")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("Would fire for these 1 servers now", timeout=SLOW_MS)
    expect(preview.get_by_role("listitem").filter(has_text="ui-watch")).to_be_visible()
    page.get_by_label("Condition 1: above").fill("100")
    expect(preview).to_contain_text("Would fire for these 0 servers now")
    page.get_by_label("Condition 1: below").fill("200")
    expect(preview).to_contain_text("rules[0]: min (200) is greater than max (100)")
    page.get_by_label("Condition 1: below").fill("")
    page.get_by_label("Condition 1: above").fill("1")
    expect(preview).to_contain_text("Would fire for these 1 servers now")
    site.shot(page, "07-rule-editor-preview")
    page.get_by_role("button", name="Create rule").click()
    expect(page).to_have_url(re.compile(r"/alerts/rules$"))
    expect(page.get_by_role("link", name="ui memory in use")).to_be_visible()
    page.get_by_role("link", name="Firing").click()
    row = page.get_by_role("row").filter(has_text="ui memory in use")
    expect(row).to_be_visible(timeout=SLOW_MS)
    expect(row.get_by_text("Firing")).to_be_visible()
    expect(row).to_contain_text("server_name=ui-watch")
    row.get_by_role("button", name=re.compile(r"^Acknowledge ui memory in use")).click()
    expect(row).to_contain_text("admin", timeout=SLOW_MS)
    site.shot(page, "08-alerts-firing")
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("row").filter(has_text="ui memory in use").first).to_be_visible()
    page.context.close()


def test_sql_rules_preview_their_rows(site: Site, browser: Browser, signed_in: dict[str, object]) -> None:
    page = admin_page(site, browser, signed_in)
    page.goto("/alerts/rules/new")
    page.get_by_label("Kind").select_option("sql")
    page.get_by_label("Name").fill("ui rows")
    page.get_by_label("Query", exact=True).fill("SELECT 'a' AS host, 5.0::DOUBLE AS value UNION ALL SELECT 'b', 1.0")
    page.get_by_label("Threshold").fill("value > 2")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("Would fire for these 1 rows now", timeout=SLOW_MS)
    expect(preview).to_contain_text("host=a")
    page.get_by_label("Query", exact=True).fill("SELEC nonsense")
    expect(preview.get_by_role("alert")).to_contain_text("query")
    page.context.close()


def test_a_promql_rule_made_in_the_editor_previews_a_match_and_saves_with_its_trigger_tasks(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    with site.admin() as admin:
        form = {"name": "ui restart", "task_type": 1, "command": "true", "cover": 2}
        task_id = admin.post("/api/v1/cron", json=form).json()["data"]
        scheduled = {"name": "ui nightly", "scheduler": "@daily", "command": "true"}
        admin.post("/api/v1/cron", json=scheduled).raise_for_status()
    page = admin_page(site, browser, signed_in)
    page.goto("/alerts/rules/new")
    page.get_by_label("Kind").select_option("promql")
    page.get_by_label("Name").fill("ui promql cpu")
    expr = page.get_by_label("PromQL expression")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("expr: a PromQL rule needs its expression")
    expr.fill("heron_server_cpu{server=")
    expect(preview.get_by_role("alert")).to_contain_text("expr: ", timeout=SLOW_MS)  # the server's parse error
    expr.fill('heron_server_cpu{server="ui-watch"} >= 0')
    expect(preview).to_contain_text("Would fire for these 1 series now", timeout=SLOW_MS)
    expect(preview.get_by_role("listitem").filter(has_text="server=ui-watch")).to_be_visible()
    page.get_by_label("Keep firing for (seconds)").fill("45")
    page.get_by_label("Labels", exact=True).fill("team=ops")
    page.get_by_label("Annotations").fill("summary={{ $labels.server }} at {{ $value }}")
    fired = page.get_by_role("group", name="Run when it fires")
    expect(fired.get_by_role("checkbox")).to_have_count(1)  # the scheduled task is not offered
    fired.get_by_role("checkbox", name="ui restart").check()
    page.get_by_role("group", name="Run when it resolves").get_by_role("checkbox", name="ui restart").check()
    site.shot(page, "14-rule-editor-promql")
    page.get_by_role("button", name="Create rule").click()
    expect(page).to_have_url(re.compile(r"/alerts/rules$"))
    row = page.get_by_role("row").filter(has_text="ui promql cpu")
    expect(row).to_contain_text("PromQL rule")
    with site.admin() as admin:
        rule = next(r for r in admin.get("/api/v1/alert-rule").json()["data"] if r["name"] == "ui promql cpu")
    assert rule["kind"] == "promql" and rule["expr"] == 'heron_server_cpu{server="ui-watch"} >= 0'
    assert (rule["keep_firing_for_seconds"], rule["labels"]) == (45, {"team": "ops"})
    assert rule["annotations"] == {"summary": "{{ $labels.server }} at {{ $value }}"}
    assert rule["fail_trigger_tasks"] == [task_id] and rule["recover_trigger_tasks"] == [task_id]
    row.get_by_role("link", name="ui promql cpu").click()  # the editor reads it back
    expect(page.get_by_label("PromQL expression")).to_have_value('heron_server_cpu{server="ui-watch"} >= 0')
    fired = page.get_by_role("group", name="Run when it fires")
    expect(fired.get_by_role("checkbox", name="ui restart")).to_be_checked()
    page.context.close()


def test_a_service_rule_made_in_the_editor_saves_its_monitors(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    with site.admin() as admin:
        form = {"name": "ui beat", "type": "push", "duration": 3600}
        monitor_id = admin.post("/api/v1/service", json=form).json()["data"]
    page = admin_page(site, browser, signed_in)
    page.goto("/alerts/rules/new")
    page.get_by_label("Kind").select_option("service")
    page.get_by_label("Name").fill("ui beat late")
    page.get_by_label("Condition 1: metric").select_option("cert_expiry")
    preview = page.get_by_role("region", name="Preview")
    page.get_by_label("Condition 1: days left below").fill("")
    expect(preview).to_contain_text("rules[0].min: a cert_expiry condition needs min")
    page.get_by_label("Condition 1: metric").select_option("down")
    page.get_by_label("Condition 1: for seconds").fill("0")
    page.get_by_label("Condition 1: watches").select_option("1")
    page.get_by_role("group", name="Condition 1: monitors").get_by_role("checkbox", name="ui beat").check()
    headline = re.compile(r"Would fire for these \d+ monitors and vantage points now")
    expect(preview).to_contain_text(headline, timeout=SLOW_MS)
    site.shot(page, "15-rule-editor-service")
    page.get_by_role("button", name="Create rule").click()
    expect(page).to_have_url(re.compile(r"/alerts/rules$"))
    expect(page.get_by_role("row").filter(has_text="ui beat late")).to_contain_text("Service rule")
    with site.admin() as admin:
        rule = next(r for r in admin.get("/api/v1/alert-rule").json()["data"] if r["name"] == "ui beat late")
    assert rule["kind"] == "service"
    assert rule["rules"] == [
        {"type": "down", "min": 0, "max": 0, "duration": 0, "cover": 1, "ignore": {str(monitor_id): True}}
    ]
    page.context.close()


def test_a_transfer_quota_rule_previews_and_saves_its_cycle(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    page = admin_page(site, browser, signed_in)
    page.goto("/alerts/rules/new")
    page.get_by_label("Name").fill("ui monthly quota")
    page.get_by_label("Condition 1: metric").select_option("transfer_all_cycle")
    page.get_by_label("Condition 1: above").fill("1099511627776")
    start = page.get_by_label("Condition 1: cycle starts")
    start.fill("2999-01-01T00:00:00Z")
    preview = page.get_by_role("region", name="Preview")
    expect(preview).to_contain_text("rules[0].cycle_start: the cycle starts in the future")
    start.fill("2024-01-01T00:00:00Z")
    page.get_by_label("Condition 1: cycle length").fill("1")
    page.get_by_label("Condition 1: cycle unit").select_option("month")
    expect(preview).to_contain_text("Would fire for these 0 servers now (of 1 watched)", timeout=SLOW_MS)
    site.shot(page, "16-rule-editor-quota")
    page.get_by_role("button", name="Create rule").click()
    expect(page).to_have_url(re.compile(r"/alerts/rules$"))
    with site.admin() as admin:
        rule = next(r for r in admin.get("/api/v1/alert-rule").json()["data"] if r["name"] == "ui monthly quota")
    condition = rule["rules"][0]
    assert (condition["type"], condition["max"]) == ("transfer_all_cycle", 1099511627776)
    assert (condition["cycle_start"], condition["cycle_interval"], condition["cycle_unit"]) == (
        "2024-01-01T00:00:00Z", 1, "month",
    )  # fmt: skip
    page.context.close()


def test_notification_methods_answer_a_test_and_silences_and_windows_are_made(
    site: Site, browser: Browser, signed_in: dict[str, object]
) -> None:
    page = admin_page(site, browser, signed_in)
    with http_receiver() as receiver:
        page.goto("/alerts/notifications")
        expect(page.get_by_role("heading", name="No notification methods")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("ops hook")
        page.get_by_label("URL").fill(f"{receiver.url}/hook")
        page.get_by_role("button", name="Create method").click()
        page.get_by_role("button", name="Send test: ops hook").click()
        said = page.get_by_label("What the far end said to the test of ops hook")
        expect(said).to_have_text('{"ok": true}')
        expect(page.get_by_text("Delivered · HTTP 200")).to_be_visible()
        assert any(r.path == "/hook" for r in receiver.requests)
    page.get_by_label("Group name").fill("on call")
    page.get_by_role("checkbox", name="ops hook").check()
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_text("on call")).to_be_visible()
    site.shot(page, "09-notifications")

    page.goto("/alerts/silences")
    page.get_by_label("Value").fill("ui-watch")
    page.get_by_label("Comment").fill("planned work")
    page.get_by_role("button", name="Create silence").click()
    row = page.get_by_role("row").filter(has_text="planned work")
    expect(row).to_contain_text('server_name="ui-watch"')
    expect(row).to_contain_text("Active")
    site.shot(page, "10-silences")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Expire").click()
    expect(page.get_by_role("heading", name="No silences")).to_be_visible()

    page.goto("/alerts/maintenance")
    page.get_by_label("Name").fill("sunday updates")
    page.get_by_label("Starts (cron)").fill("0 3 * *")
    page.get_by_role("button", name="Create window").click()
    expect(page.get_by_role("alert")).to_contain_text("cron: expected five cron fields")
    page.get_by_label("Starts (cron)").fill("0 3 * * 0")
    page.get_by_role("checkbox", name="ui-watch").check()
    page.get_by_role("button", name="Create window").click()
    expect(page.get_by_role("row").filter(has_text="sunday updates")).to_contain_text("servers chosen: 1")
    site.shot(page, "11-maintenance")
    page.context.close()


PAGES = [
    "/services",
    "/services/new",
    "/services/1",
    "/alerts",
    "/alerts/history",
    "/alerts/rules",
    "/alerts/rules/new",
    "/alerts/silences",
    "/alerts/maintenance",
    "/alerts/notifications",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_new_pages(
    site: Site, browser: Browser, signed_in: dict[str, object], scheme: str
) -> None:
    page = admin_page(site, browser, signed_in, scheme=scheme)
    found: dict[str, list[str]] = {}
    for path in PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.locator("main").first.wait_for()
        page.wait_for_timeout(300)
        if problems := axe_violations(page):
            found[path] = problems
    page.goto("/alerts/rules/new")
    preview = page.get_by_role("region", name="Preview")
    for kind, control in (("service", "Condition 1: watches"), ("promql", "PromQL expression"), ("sql", "Threshold")):
        page.get_by_label("Kind").select_option(kind)
        expect(page.get_by_label(control)).to_be_visible()
        expect(preview).to_contain_text("name: a rule needs a name")
        if problems := axe_violations(page):
            found[f"/alerts/rules/new ({kind})"] = problems
    page.get_by_label("Kind").select_option("server")
    page.get_by_label("Condition 1: metric").select_option("transfer_in_cycle")
    if problems := axe_violations(page):
        found["/alerts/rules/new (transfer quota)"] = problems
    page.goto("/services")
    page.get_by_role("img", name=re.compile("up over 90 days")).first.wait_for()
    site.shot(page, f"12-services-{scheme}")
    page.goto("/alerts/history")
    page.get_by_role("table").wait_for()
    site.shot(page, f"13-alerts-history-{scheme}")
    page.context.close()
    assert not found, found


def test_the_alerts_page_speaks_chinese(site: Site, browser: Browser, signed_in: dict[str, object]) -> None:
    context = new_context(browser, site.log, locale="zh-CN", storage_state=signed_in)
    page = context.new_page()
    page.goto("/alerts/rules")
    expect(page.get_by_role("heading", name="告警", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="新建规则")).to_be_visible()
    page.goto("/alerts/rules/new")
    page.get_by_label("类型", exact=True).select_option("promql")
    expect(page.get_by_label("PromQL 表达式")).to_be_visible()
    expect(page.get_by_role("group", name="触发时运行")).to_be_visible()
    page.goto("/services")
    expect(page.get_by_role("heading", name="服务", level=1)).to_be_visible()
    context.close()


def test_every_call_the_new_pages_made_is_in_the_openapi_document(site: Site) -> None:
    doc = httpx.get(f"{site.url}/openapi.json").json()
    for call in [
        ("GET", "/api/v1/service/daily"),
        ("POST", "/api/v1/alert-rule/preview"),
        ("GET", "/api/v1/cron"),
        ("GET", "/api/v1/service/list"),
        ("POST", "/api/v1/alert-event/ack"),
        ("POST", "/api/v1/notification/1/test"),
    ]:
        assert call in site.log.calls, call
    assert undocumented(site.log.calls, doc) == []
    assert site.log.foreign == [] and site.log.challenges == []
