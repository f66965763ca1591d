import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { StreamServer } from "../api/types";
import { selectServers } from "./filter";

function server(id: number, name: string, online: boolean, cpu: number): StreamServer {
  const zero = { mem_used: 0, swap_used: 0, disk_used: 0, net_in_transfer: 0, net_out_transfer: 0, net_in_speed: 0,
    net_out_speed: 0, uptime: 0, load_1: 0, load_5: 0, load_15: 0, tcp_conn_count: 0, udp_conn_count: 0, process_count: 0 };
  const host = { platform: "", platform_version: "", cpu: [], mem_total: 0, disk_total: 0, swap_total: 0, arch: "",
    virtualization: "", boot_time: 0, version: "" };
  return { id, name, public_note: "", display_index: 0, host, state: { ...zero, cpu }, last_active: "", online };
}

const fleet = [server(1, "web-1", true, 10), server(2, "db-1", false, 0), server(3, "web-2", true, 90)];
const none = new Map<number, Set<number>>();

test("search matches names, state filters online and offline", () => {
  const found = selectServers(fleet, { search: "WEB", state: "all", sort: "name", group: null }, none);
  assert.deepEqual(found.map((s) => s.id), [1, 3]);
  const offline = selectServers(fleet, { search: "", state: "offline", sort: "index", group: null }, none);
  assert.deepEqual(offline.map((s) => s.id), [2]);
});

test("sorting by CPU puts the busiest first, and groups restrict", () => {
  const busy = selectServers(fleet, { search: "", state: "all", sort: "cpu", group: null }, none);
  assert.deepEqual(busy.map((s) => s.id), [3, 1, 2]);
  const grouped = selectServers(fleet, { search: "", state: "all", sort: "index", group: 7 }, new Map([[7, new Set([2, 3])]]));
  assert.deepEqual(grouped.map((s) => s.id), [2, 3]);
});
