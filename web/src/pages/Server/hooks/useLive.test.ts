import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { StreamServer } from "../../../api/types";
import { appendReport, emptyBuffer, LIVE_POINTS } from "./useLive";

function report(second: number): StreamServer {
  const state = { cpu: second % 100, mem_used: 50, swap_used: 0, disk_used: 0, net_in_transfer: 0, net_out_transfer: 0,
    net_in_speed: 1, net_out_speed: 2, uptime: second, load_1: 0.5, load_5: 0, load_15: 0, tcp_conn_count: 0,
    udp_conn_count: 0, process_count: 0 };
  const host = { platform: "linux", platform_version: "", cpu: [], mem_total: 100, disk_total: 0, swap_total: 0,
    arch: "", virtualization: "", boot_time: 0, version: "" };
  return { id: 1, name: "a", public_note: "", display_index: 0, host, state, online: true,
    last_active: new Date(second * 1000).toISOString() };
}

test("the same report twice is kept once, and the buffer stays bounded", () => {
  const buf = emptyBuffer();
  assert.equal(appendReport(buf, report(10)), true);
  assert.equal(appendReport(buf, report(10)), false);
  for (let s = 11; s < 11 + LIVE_POINTS * 2; s++) appendReport(buf, report(s));
  assert.equal(buf.t.length, LIVE_POINTS);
  assert.equal(buf.mem[0], 50);
  assert.equal(buf.t[buf.t.length - 1], 10 + LIVE_POINTS * 2);
});
