// The servers a user may operate, and the one chosen in the address (?server=), shared by the tabs.
import { listServers } from "../../../api/servers";
import type { Server } from "../../../api/types";
import { useFetch } from "../../../hooks/useFetch";
import { navigate, useRoute } from "../../../hooks/useRoute";

export function useServers() {
  return useFetch((signal) => listServers(signal), []);
}

export function useChosenServer(servers: Server[] | null): [Server | null, (id: number) => void] {
  const route = useRoute();
  const wanted = Number(route.params.get("server"));
  const chosen = servers?.find((s) => s.id === wanted) ?? servers?.find((s) => s.online) ?? servers?.[0] ?? null;
  const choose = (id: number) => {
    const params = new URLSearchParams(location.search);
    params.set("server", String(id));
    navigate(`${location.pathname}?${params}`, true);
  };
  return [chosen, choose];
}
