// A server rule's conditions: it fires for a server when every condition is out of range.
import type { Key } from "../../i18n";
import { t } from "../../i18n";
import { Button } from "../../components/ui/Button";
import { CondDraft, CONDITION_TYPES, newCondition } from "./ruleform";

export function Conditions({ conditions, onChange }: { conditions: CondDraft[]; onChange: (c: CondDraft[]) => void }) {
  const change = (i: number, k: keyof CondDraft, v: string) => onChange(conditions.map((c, j) => (j === i ? { ...c, [k]: v } : c)));
  return (
    <fieldset class="conditions">
      <legend>{t("alerts.conditions")}</legend>
      <p class="muted small">{t("alerts.conditions_hint")}</p>
      {conditions.map((c, i) => (
        <div class="condition" key={i}>
          <label class="field">
            {t("alerts.cond_what")}
            <select aria-label={t("alerts.cond_type", { n: i + 1 })} value={c.type} onChange={(e) => change(i, "type", e.currentTarget.value)}>
              {CONDITION_TYPES.map((type) => <option key={type} value={type}>{t(`cond.${type}` as Key)}</option>)}
            </select>
          </label>
          {c.type !== "offline" && (
            <>
              <label class="field">
                {t("alerts.cond_min")}
                <input aria-label={t("alerts.cond_min_n", { n: i + 1 })} inputMode="decimal" size={7} value={c.min} onInput={(e) => change(i, "min", e.currentTarget.value)} />
              </label>
              <label class="field">
                {t("alerts.cond_max")}
                <input aria-label={t("alerts.cond_max_n", { n: i + 1 })} inputMode="decimal" size={7} value={c.max} onInput={(e) => change(i, "max", e.currentTarget.value)} />
              </label>
            </>
          )}
          <label class="field">
            {t("alerts.cond_duration")}
            <input aria-label={t("alerts.cond_duration_n", { n: i + 1 })} inputMode="numeric" size={6} value={c.duration} onInput={(e) => change(i, "duration", e.currentTarget.value)} />
          </label>
          <Button onClick={() => onChange(conditions.filter((_, j) => j !== i))} aria-label={t("alerts.cond_remove", { n: i + 1 })}>
            {t("alerts.remove")}
          </Button>
        </div>
      ))}
      <Button onClick={() => onChange([...conditions, newCondition()])}>{t("alerts.cond_add")}</Button>
    </fieldset>
  );
}
