// The settings each kind of monitor has besides its target.
import { ComponentChildren } from "preact";
import { Field } from "../../components/ui/Field";
import { t } from "../../i18n";
import { Draft, RECORD_TYPES } from "./validate";

type Input = (k: keyof Draft, extra?: Record<string, unknown>) => (id: string, hint?: string) => ComponentChildren;

export function KindOptions({ draft, input, setDraft }: { draft: Draft; input: Input; setDraft: (d: Draft) => void }) {
  switch (draft.kind) {
    case "http":
      return (
        <div class="row">
          <Field label={t("services.expected_status")} hint={t("services.expected_status_hint")}>{input("expectedStatus")}</Field>
          <Field label={t("services.keyword")} hint={t("services.keyword_hint")}>{input("keyword")}</Field>
        </div>
      );
    case "dns":
      return (
        <div class="row">
          <Field label={t("services.record_type")}>
            {(id) => (
              <select id={id} value={draft.recordType} onChange={(e) => setDraft({ ...draft, recordType: e.currentTarget.value })}>
                {RECORD_TYPES.map((r) => <option key={r} value={r}>{r}</option>)}
              </select>
            )}
          </Field>
          <Field label={t("services.resolver")} hint={t("services.resolver_hint")}>{input("resolver")}</Field>
        </div>
      );
    case "icmp":
      return <Field label={t("services.count")}>{input("count", { inputMode: "numeric", size: 6 })}</Field>;
    case "push":
      return <Field label={t("services.grace")} hint={t("services.grace_hint")}>{input("grace", { inputMode: "numeric", size: 8 })}</Field>;
    default:
      return null;
  }
}
