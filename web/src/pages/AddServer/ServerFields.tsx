import type { Group } from "../../api/types";
import { Field } from "../../components/ui/Field";
import { t } from "../../i18n";

export interface ServerDraft {
  name: string;
  public_note: string;
  note: string;
  display_index: number;
  hide_for_guest: boolean;
  groups: number[];
}

export const EMPTY_DRAFT: ServerDraft = { name: "", public_note: "", note: "", display_index: 0, hide_for_guest: false, groups: [] };

/** The fields of a server, shared by the add and edit pages. */
export function ServerFields({ draft, groups, onChange }: { draft: ServerDraft; groups: Group[]; onChange: (d: ServerDraft) => void }) {
  return (
    <>
      <Field label={t("servers.name")} hint={t("add.name_hint")}>
        {(id, hint) => <input id={id} value={draft.name} required maxLength={255} aria-describedby={hint} onInput={(e) => onChange({ ...draft, name: e.currentTarget.value })} />}
      </Field>
      <Field label={t("edit.public_note")} hint={t("edit.public_note_hint")}>
        {(id, hint) => <input id={id} value={draft.public_note} maxLength={4096} aria-describedby={hint} onInput={(e) => onChange({ ...draft, public_note: e.currentTarget.value })} />}
      </Field>
      <Field label={t("edit.note")} hint={t("edit.note_hint")}>
        {(id, hint) => <textarea id={id} rows={2} value={draft.note} maxLength={4096} aria-describedby={hint} onInput={(e) => onChange({ ...draft, note: e.currentTarget.value })} />}
      </Field>
      <Field label={t("edit.display_index")} hint={t("edit.display_index_hint")}>
        {(id, hint) => (
          <input id={id} type="number" value={draft.display_index} aria-describedby={hint} onInput={(e) => onChange({ ...draft, display_index: Number(e.currentTarget.value) || 0 })} />
        )}
      </Field>
      <label class="check">
        <input type="checkbox" checked={draft.hide_for_guest} onChange={(e) => onChange({ ...draft, hide_for_guest: e.currentTarget.checked })} />
        {t("edit.hide_for_guest")}
      </label>
      {groups.length > 0 && (
        <fieldset>
          <legend>{t("edit.groups")}</legend>
          {groups.map((g) => (
            <label class="check" key={g.group.id}>
              <input
                type="checkbox"
                checked={draft.groups.includes(g.group.id)}
                onChange={(e) =>
                  onChange({
                    ...draft,
                    groups: e.currentTarget.checked ? [...draft.groups, g.group.id] : draft.groups.filter((x) => x !== g.group.id),
                  })
                }
              />
              {g.group.name}
            </label>
          ))}
        </fieldset>
      )}
    </>
  );
}
