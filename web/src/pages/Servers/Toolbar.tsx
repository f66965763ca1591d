import type { Group } from "../../api/types";
import { Segmented } from "../../components/ui/Tabs";
import { t } from "../../i18n";
import type { ServerQuery, SortKey, StateFilter } from "../../utils/filter";

export type View = "cards" | "table" | "tiles";

interface Props {
  query: ServerQuery;
  view: View;
  groups: Group[];
  onQuery: (query: ServerQuery) => void;
  onView: (view: View) => void;
}

const SORTS: SortKey[] = ["index", "name", "cpu", "memory", "disk", "net", "uptime"];

export function Toolbar({ query, view, groups, onQuery, onView }: Props) {
  return (
    <div class="toolbar" role="search">
      <label class="sr-only" for="server-search">
        {t("servers.search")}
      </label>
      <input
        id="server-search"
        type="search"
        placeholder={t("servers.search")}
        value={query.search}
        onInput={(e) => onQuery({ ...query, search: e.currentTarget.value })}
      />
      <Segmented<StateFilter>
        label={t("servers.state")}
        value={query.state}
        options={[
          { value: "all", label: t("servers.all") },
          { value: "online", label: t("servers.online") },
          { value: "offline", label: t("servers.offline") },
        ]}
        onChange={(state) => onQuery({ ...query, state })}
      />
      {groups.length > 0 && (
        <>
          <label class="sr-only" for="server-group">
            {t("servers.group")}
          </label>
          <select
            id="server-group"
            value={query.group ?? ""}
            onChange={(e) => onQuery({ ...query, group: e.currentTarget.value ? Number(e.currentTarget.value) : null })}
          >
            <option value="">{t("servers.all_groups")}</option>
            {groups.map((g) => (
              <option key={g.group.id} value={g.group.id}>
                {g.group.name}
              </option>
            ))}
          </select>
        </>
      )}
      <label class="sr-only" for="server-sort">
        {t("servers.sort")}
      </label>
      <select id="server-sort" value={query.sort} onChange={(e) => onQuery({ ...query, sort: e.currentTarget.value as SortKey })}>
        {SORTS.map((s) => (
          <option key={s} value={s}>
            {t("servers.sort_by", { key: t(`sort.${s}`) })}
          </option>
        ))}
      </select>
      <Segmented<View>
        label={t("servers.view")}
        value={view}
        options={[
          { value: "cards", label: t("servers.cards") },
          { value: "table", label: t("servers.table") },
          { value: "tiles", label: t("servers.tiles") },
        ]}
        onChange={onView}
      />
    </div>
  );
}
