import { useMemo, useState } from "preact/hooks";
import { listGroups } from "../../api/servers";
import { Link } from "../../components/ui/Link";
import { Empty, Loading } from "../../components/ui/Notice";
import { useDebounced, useFetch } from "../../hooks/useFetch";
import { navigate, useRoute } from "../../hooks/useRoute";
import { t } from "../../i18n";
import { useSession } from "../../state/session";
import { selectServers, ServerQuery, SortKey, StateFilter } from "../../utils/filter";
import { speed } from "../../utils/format";
import { Cards } from "./Cards";
import { useServerStream } from "./hooks/useServerStream";
import { Table } from "./Table";
import { Tiles } from "./Tiles";
import { Toolbar, View } from "./Toolbar";
import "./style.css";

function fromParams(params: URLSearchParams): { query: ServerQuery; view: View } {
  const group = params.get("group");
  return {
    query: {
      search: params.get("q") ?? "",
      state: (params.get("state") as StateFilter) || "all",
      sort: (params.get("sort") as SortKey) || "index",
      group: group ? Number(group) : null,
    },
    view: (params.get("view") as View) || "cards",
  };
}

function toAddress(query: ServerQuery, view: View): string {
  const params = new URLSearchParams();
  if (query.search) params.set("q", query.search);
  if (query.state !== "all") params.set("state", query.state);
  if (query.sort !== "index") params.set("sort", query.sort);
  if (query.group !== null) params.set("group", String(query.group));
  if (view !== "cards") params.set("view", view);
  const qs = params.toString();
  return qs ? `/servers?${qs}` : "/servers";
}

export function Servers() {
  const { session } = useSession();
  const route = useRoute();
  const initial = useMemo(() => fromParams(route.params), []);
  const [query, setQuery] = useState(initial.query);
  const [view, setView] = useState(initial.view);
  const stream = useServerStream();
  const groups = useFetch((signal) => (session.user ? listGroups(signal) : Promise.resolve([])), [session.user?.id]);
  const search = useDebounced(query.search, 150);
  const members = useMemo(() => new Map((groups.data ?? []).map((g) => [g.group.id, new Set(g.servers)])), [groups.data]);
  const shown = useMemo(
    () => selectServers(stream.servers, { ...query, search }, members),
    [stream.servers, search, query.state, query.sort, query.group, members],
  );
  const update = (nextQuery: ServerQuery, nextView: View) => {
    setQuery(nextQuery);
    setView(nextView);
    navigate(toAddress(nextQuery, nextView), true);
  };
  const online = stream.servers.filter((s) => s.online).length;
  const netIn = stream.servers.reduce((n, s) => n + s.state.net_in_speed, 0);
  const netOut = stream.servers.reduce((n, s) => n + s.state.net_out_speed, 0);
  return (
    <>
      <div class="page-head">
        <h1>{t("servers.title")}</h1>
        {session.user && (
          <Link href="/servers/new" class="btn btn-primary">
            {t("servers.add")}
          </Link>
        )}
      </div>
      <ul class="summary" aria-label={t("servers.summary")}>
        <li>
          <strong>{stream.servers.length}</strong> {stream.servers.length === 1 ? t("servers.total_one") : t("servers.total")}
        </li>
        <li class="up">
          <strong>{online}</strong> {t("servers.online")}
        </li>
        <li class="down">
          <strong>{stream.servers.length - online}</strong> {t("servers.offline")}
        </li>
        <li>
          ↓ {speed(netIn)} ↑ {speed(netOut)}
        </li>
        <li class="muted">
          <span role="status">{stream.connected ? t("servers.live") : t("servers.reconnecting")}</span>
        </li>
      </ul>
      <Toolbar query={query} view={view} groups={groups.data ?? []} onQuery={(q) => update(q, view)} onView={(v) => update(query, v)} />
      {stream.frames === 0 ? (
        <Loading label={t("servers.connecting")} />
      ) : stream.servers.length === 0 ? (
        <Empty title={t("servers.empty")}>
          {session.user ? (
            <p>
              {t("servers.empty_hint")} <Link href="/servers/new">{t("servers.add")}</Link>
            </p>
          ) : (
            <p>{t("servers.empty_guest")}</p>
          )}
        </Empty>
      ) : shown.length === 0 ? (
        <Empty title={t("servers.no_match")}>
          <button type="button" class="btn btn-plain" onClick={() => update({ search: "", state: "all", sort: query.sort, group: null }, view)}>
            {t("servers.clear_filters")}
          </button>
        </Empty>
      ) : view === "table" ? (
        <Table servers={shown} />
      ) : view === "tiles" ? (
        <Tiles servers={shown} />
      ) : (
        <Cards servers={shown} />
      )}
    </>
  );
}
