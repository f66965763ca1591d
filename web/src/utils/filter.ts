// Search, filter and sort for the servers overview (pure, tested with node --test).
import type { StreamServer } from "../api/types";
import { percent } from "./format";

export type SortKey = "index" | "name" | "cpu" | "memory" | "disk" | "net" | "uptime";
export type StateFilter = "all" | "online" | "offline";

export interface ServerQuery {
  search: string;
  state: StateFilter;
  sort: SortKey;
  group: number | null;
}

export const memPercent = (s: StreamServer) => percent(s.state.mem_used, s.host.mem_total);
export const diskPercent = (s: StreamServer) => percent(s.state.disk_used, s.host.disk_total);

const KEYS: Record<SortKey, (s: StreamServer) => number | string> = {
  index: (s) => -s.display_index,
  name: (s) => s.name.toLowerCase(),
  cpu: (s) => -s.state.cpu,
  memory: (s) => -memPercent(s),
  disk: (s) => -diskPercent(s),
  net: (s) => -(s.state.net_in_speed + s.state.net_out_speed),
  uptime: (s) => -s.state.uptime,
};

export function selectServers(
  servers: StreamServer[],
  query: ServerQuery,
  groups: Map<number, Set<number>>,
): StreamServer[] {
  const needle = query.search.trim().toLowerCase();
  const members = query.group !== null ? groups.get(query.group) : undefined;
  const picked = servers.filter(
    (s) =>
      (query.state === "all" || (query.state === "online") === s.online) &&
      (!members || members.has(s.id)) &&
      (!needle || s.name.toLowerCase().includes(needle) || s.public_note.toLowerCase().includes(needle)),
  );
  const key = KEYS[query.sort];
  return picked.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.id - b.id;
  });
}
