"""The web UI in Chromium with a fleet: first load, first server card, update cost, memory, a 30-day chart.

One Heron runs locally with N simulated agents (the fleet benchmark's load generator,
`python -m bench.fleet agents`, each reporting every 3 s). Debian's `chromium`, driven by
Playwright, then measures what the issue asks of the overview:

* **first load**: the compressed bytes of JavaScript and CSS the overview downloads
  (`encodedBodySize` of its resources, cache empty);
* **first server card**: from navigation start to the first `.server-card` in the DOM, in the
  page's own clock (a MutationObserver installed before any script runs);
* **update cost**: after each stream frame (every 2 s), the growth of Chromium's
  `ScriptDuration + LayoutDuration + RecalcStyleDuration` (the Performance domain of the
  DevTools protocol) since the previous frame, for the cards view and the canvas tiles view;
  p95 over the window; the JS heap is sampled at the same times;
* **30-day chart**: 86,400 points of one metric (one every 30 s for 30 days) queried in Explore;
  from the SQL answer's last byte (Resource Timing) to the chart's canvas in the DOM and one
  animation frame later, median of several runs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from bench import results
from bench.fleet import RAMP_S, _spawn, percentile, raise_fd_limit
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, describe_failure, running
from bench.systems.heron import Heron

DEFAULT_AGENTS = 2000
DEFAULT_SECONDS = 60
CHART_POINTS = 86_400
CHART_STEP_S = 30
CHART_RUNS = 5
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: The issue's targets.
TARGET_FIRST_LOAD_KIB = 150.0
TARGET_FIRST_CARD_MS = 1000.0
TARGET_UPDATE_P95_MS = 16.0
TARGET_CHART_MS = 200.0
MIB = 2**20

METRICS = [
    Metric("first_load_kib", "Overview first load, JS + CSS compressed", "KiB", "lower"),
    Metric("first_card_ms", "Navigation to the first server card", "ms", "lower"),
    Metric("update_cards_p95_ms", "Script + layout per stream update, cards view, p95", "ms", "lower"),
    Metric("update_tiles_p95_ms", "Script + layout per stream update, tiles view (canvas), p95", "ms", "lower"),
    Metric("heap_growth_mib", "JS heap growth over the measured window", "MiB", "lower"),
    Metric("chart_30d_ms", "30-day chart of one metric (86,400 points), median", "ms", "lower"),
]

#: Installed before the page's scripts: notes when the first server card enters the DOM.
FIRST_CARD_SCRIPT = """
new MutationObserver((_, observer) => {
  if (document.querySelector('.server-card')) { window.__firstCard = performance.now(); observer.disconnect(); }
}).observe(document, {childList: true, subtree: true});
"""

#: Resolves with the time from the SQL answer's end to the chart on screen.
CHART_SCRIPT = """
() => new Promise((resolve) => {
  const done = () => requestAnimationFrame(() => {
    const end = performance.now();
    // The query's answer is the largest of the page's SQL calls (the others read the catalog).
    const sql = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/sql'))
      .sort((a, b) => b.encodedBodySize - a.encodedBodySize)[0];
    resolve(sql ? end - sql.responseEnd : null);
  });
  if (document.querySelector('.chart canvas')) return done();
  new MutationObserver((_, observer) => {
    if (document.querySelector('.chart canvas')) { observer.disconnect(); done(); }
  }).observe(document, {childList: true, subtree: true});
})
"""


def _wait_for_servers(client: httpx.Client, count: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        seen = sum(1 for s in client.get("/api/v1/server").json()["data"] if s["online"])
        if seen >= count:
            return seen
        time.sleep(1.0)
    return seen


def _write_chart_table(client: httpx.Client) -> None:
    """86,400 points of one metric, one every 30 s over the last 30 days, in line protocol."""
    now_s = int(time.time())
    start = now_s - CHART_POINTS * CHART_STEP_S
    lines = [
        f"ui_bench,host=a value={(i % 1440) / 14.4:.2f} {(start + i * CHART_STEP_S) * 10**9}"
        for i in range(CHART_POINTS)
    ]
    response = client.post("/api/v1/write", params={"db": "public"}, content="\n".join(lines).encode())
    response.raise_for_status()


def _update_costs(page: Page, seconds: float) -> tuple[list[float], list[float]]:
    """Per-frame script + layout cost (ms) and JS heap samples (bytes) over ``seconds``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

    def sample() -> tuple[float, float]:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        busy = metrics["ScriptDuration"] + metrics["LayoutDuration"] + metrics["RecalcStyleDuration"]
        return busy, metrics["JSHeapUsedSize"]

    costs: list[float] = []
    heap: list[float] = []
    previous, _ = sample()
    end = time.monotonic() + seconds
    seen = page.evaluate("window.__frames || 0")
    while time.monotonic() < end:
        page.wait_for_timeout(250)
        count = page.evaluate("window.__frames || 0")
        if count == seen:
            continue
        seen = count
        page.wait_for_timeout(400)  # the frame's render and layout finish
        busy, used = sample()
        costs.append(1000 * (busy - previous))
        heap.append(used)
        previous = busy
    cdp.detach()
    return costs, heap


#: Counts the stream's frames as the page receives them (wrapping the page's own WebSocket).
FRAME_COUNTER = """
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => { window.__frames = (window.__frames || 0) + 1; });
  }
};
"""


def _measure(server: Heron, *, agents: int, seconds: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with server.client(timeout_s=120) as client:
        token = str(client.post("/api/v1/token", json={"note": "bench ui"}).json()["data"]["token"])
        say("ui: writing the 30-day chart's 86,400 points")
        _write_chart_table(client)
        window = (time.time() + 2.0, time.time() + RAMP_S + 120 + 4 * seconds)
        fleet, _out = _spawn("agents", server, token, count=agents, window=window, workdir=server.workdir)
        try:
            say(f"ui: {agents} agents connecting over {RAMP_S:.0f} s")
            online = _wait_for_servers(client, agents, RAMP_S + 90)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
                context.request.post("/api/v1/login", data={"username": "admin", "password": server.password})
                context.add_init_script(FIRST_CARD_SCRIPT)
                context.add_init_script(FRAME_COUNTER)
                page = context.new_page()
                page.goto("/servers")
                page.wait_for_function("window.__firstCard !== undefined", timeout=60_000)
                first_card = page.evaluate("window.__firstCard")
                loaded = page.evaluate(
                    "performance.getEntriesByType('resource').filter(e => /\\.(js|css)$/.test(e.name))"
                    ".reduce((n, e) => n + e.encodedBodySize, 0)"
                )
                say(f"ui: measuring updates for {seconds} s per view")
                cards, heap_cards = _update_costs(page, seconds)
                page.get_by_role("radio", name="Tiles").click()
                tiles, heap_tiles = _update_costs(page, seconds)
                chart = []
                query = "SELECT time, value FROM ui_bench ORDER BY time"
                for _ in range(CHART_RUNS):
                    page.goto(f"/explore?db=public&q={httpx.QueryParams({'q': query})['q']}")
                    chart.append(page.evaluate(CHART_SCRIPT))
                rows = page.get_by_role("heading", name="86400 rows").count()
                browser.close()
        finally:
            fleet.kill()
            fleet.wait()
    heap = heap_cards + heap_tiles
    values = {
        "first_load_kib": round(loaded / 1024, 1),
        "first_card_ms": round(first_card, 1),
        "update_cards_p95_ms": round(percentile(cards, 95) or 0, 2) if cards else None,
        "update_tiles_p95_ms": round(percentile(tiles, 95) or 0, 2) if tiles else None,
        "heap_growth_mib": round((heap[-1] - heap[0]) / MIB, 2) if len(heap) > 1 else None,
        "chart_30d_ms": round(statistics.median(c for c in chart if c is not None), 1),
    }
    checks = {
        "servers_online_at_start": online,
        "updates_measured": {"cards": len(cards), "tiles": len(tiles)},
        "update_max_ms": {name: round(max(c), 2) if c else None for name, c in (("cards", cards), ("tiles", tiles))},
        "heap_mib": {"min": round(min(heap) / MIB, 1), "max": round(max(heap) / MIB, 1)} if heap else None,
        "chart_runs_ms": [round(c, 1) if c is not None else None for c in chart],
        "chart_rows_shown": rows == 1,
        "within_targets": {
            "first_load": values["first_load_kib"] <= TARGET_FIRST_LOAD_KIB,
            "first_card": values["first_card_ms"] <= TARGET_FIRST_CARD_MS,
            "update_p95": all(
                v is not None and v <= TARGET_UPDATE_P95_MS
                for v in (values["update_cards_p95_ms"], values["update_tiles_p95_ms"])
            ),
            "chart_30d": values["chart_30d_ms"] <= TARGET_CHART_MS,
        },
    }  # fmt: skip
    return values, checks


def run_ui(*, agents: int = DEFAULT_AGENTS, seconds: int = DEFAULT_SECONDS, workdir: Path) -> dict[str, Any]:
    """Run the UI benchmark against a fresh Heron; return the results document."""
    entry: dict[str, Any] = {"label": "Heron", "values": {}}
    checks: dict[str, Any] = {}
    raise_fd_limit()
    try:
        server = Heron(workdir / "heron-ui")
        entry["version"] = server.version()
        with running(server) as started:
            assert isinstance(started, Heron)
            entry["values"], checks = _measure(started, agents=agents, seconds=seconds)
    except PHASE_ERRORS as exc:
        entry["error"] = describe_failure(exc)
    return results.build(
        benchmark="ui",
        title="Web UI in Chromium",
        description=(
            f"Heron with {agents:,} simulated agents (each reporting every 3 s) and the overview open in "
            f"Debian's Chromium (headless, Playwright). Update cost is measured for {seconds} s per view."
        ),
        parameters={
            "agents": agents,
            "seconds_per_view": seconds,
            "chart_points": CHART_POINTS,
            "chart_runs": CHART_RUNS,
        },
        metrics=METRICS,
        systems={"heron": entry},
        checks=checks,
        notes=[
            f"Targets: first load <= {TARGET_FIRST_LOAD_KIB:.0f} KiB, first card <= {TARGET_FIRST_CARD_MS:.0f} ms, "
            f"update p95 <= {TARGET_UPDATE_P95_MS:.0f} ms, 30-day chart <= {TARGET_CHART_MS:.0f} ms.",
            "Update cost is Chromium's main-thread script, layout and style time between two stream frames "
            "(every 2 s), so it includes decoding the frame (about 1 MB of JSON with 2,000 servers).",
            "The browser, Heron and the load generator share the machine's two cores.",
            "The 30-day chart is drawn from raw rows in Explore; the server page's 30-day history is "
            "bucketed by the API to at most about 1,440 points per curve.",
        ],
    )
