// A server or service rule's conditions: it fires for a server (or a monitor from a vantage
// point) when every condition is out of range.
import type { Key } from "../../i18n";
import { t } from "../../i18n";
import { Button } from "../../components/ui/Button";
import { CondDraft, CONDITION_TYPES, CYCLE_UNITS, isCycle, newCondition, retype, SERVICE_TYPES } from "./ruleform";

interface Props {
  kind: "server" | "service";
  conditions: CondDraft[];
  /** Monitors a service condition may choose (id and name). */
  monitors: { id: number; name: string }[];
  onChange: (c: CondDraft[]) => void;
}

function Bound({ text, label, value, wide, onInput }: { text: string; label: string; value: string; wide: boolean; onInput: (v: string) => void }) {
  return (
    <label class="field">
      {text}
      <input aria-label={label} inputMode="decimal" size={wide ? 15 : 9} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
    </label>
  );
}

export function Conditions({ kind, conditions, monitors, onChange }: Props) {
  const change = (i: number, patch: Partial<CondDraft>) => onChange(conditions.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  const types: readonly string[] = kind === "service" ? SERVICE_TYPES : CONDITION_TYPES;
  return (
    <fieldset class="conditions">
      <legend>{t("alerts.conditions")}</legend>
      <p class="muted small">{t(kind === "service" ? "alerts.service_conditions_hint" : "alerts.conditions_hint")}</p>
      {conditions.map((c, i) => {
        const n = i + 1;
        const bounds = c.type !== "offline" && c.type !== "down";
        return (
          <div class="condition" key={i}>
            <label class="field">
              {t("alerts.cond_what")}
              <select aria-label={t("alerts.cond_type", { n })} value={c.type} onChange={(e) => change(i, retype(c, e.currentTarget.value))}>
                {types.map((type) => <option key={type} value={type}>{t(`cond.${type}` as Key)}</option>)}
              </select>
            </label>
            {bounds && c.type !== "cert_expiry" && (
              <Bound text={t("alerts.cond_max")} label={t("alerts.cond_max_n", { n })} value={c.max} wide={isCycle(c.type)} onInput={(max) => change(i, { max })} />
            )}
            {bounds && (
              <Bound
                text={t(c.type === "cert_expiry" ? "alerts.cond_days" : "alerts.cond_min")}
                label={t(c.type === "cert_expiry" ? "alerts.cond_days_n" : "alerts.cond_min_n", { n })}
                value={c.min}
                wide={isCycle(c.type)}
                onInput={(min) => change(i, { min })}
              />
            )}
            {!isCycle(c.type) && (
              <label class="field">
                {t("alerts.cond_duration")}
                <input aria-label={t("alerts.cond_duration_n", { n })} inputMode="numeric" size={6} value={c.duration} onInput={(e) => change(i, { duration: e.currentTarget.value })} />
              </label>
            )}
            {isCycle(c.type) && (
              <>
                <label class="field">
                  {t("alerts.cycle_start")}
                  <input aria-label={t("alerts.cycle_start_n", { n })} class="mono" size={21} value={c.cycleStart} onInput={(e) => change(i, { cycleStart: e.currentTarget.value })} />
                </label>
                <label class="field">
                  {t("alerts.cycle_every")}
                  <input aria-label={t("alerts.cycle_interval_n", { n })} inputMode="numeric" size={4} value={c.cycleInterval} onInput={(e) => change(i, { cycleInterval: e.currentTarget.value })} />
                </label>
                <label class="field">
                  {t("alerts.cycle_unit")}
                  <select aria-label={t("alerts.cycle_unit_n", { n })} value={c.cycleUnit} onChange={(e) => change(i, { cycleUnit: e.currentTarget.value })}>
                    {CYCLE_UNITS.map((u) => <option key={u} value={u}>{t(`alerts.unit_${u}` as Key)}</option>)}
                  </select>
                </label>
              </>
            )}
            {kind === "service" && (
              <div class="cond-monitors">
                <label class="field">
                  {t("alerts.cond_watches")}
                  <select aria-label={t("alerts.cond_watches_n", { n })} value={c.cover} onChange={(e) => change(i, { cover: Number(e.currentTarget.value) })}>
                    <option value={0}>{t("alerts.watch_all_but")}</option>
                    <option value={1}>{t("alerts.watch_only")}</option>
                  </select>
                </label>
                <div class="checks" role="group" aria-label={t("alerts.cond_monitors_n", { n })}>
                  {monitors.map((m) => (
                    <label key={m.id}>
                      <input
                        type="checkbox"
                        checked={c.ignore.includes(m.id)}
                        onChange={(e) => change(i, { ignore: e.currentTarget.checked ? [...c.ignore, m.id] : c.ignore.filter((x) => x !== m.id) })}
                      />{" "}
                      {m.name}
                    </label>
                  ))}
                  {!monitors.length && <span class="muted small">{t("alerts.no_monitors")}</span>}
                </div>
              </div>
            )}
            <Button onClick={() => onChange(conditions.filter((_, j) => j !== i))} aria-label={t("alerts.cond_remove", { n })}>
              {t("alerts.remove")}
            </Button>
          </div>
        );
      })}
      <Button onClick={() => onChange([...conditions, newCondition(kind)])}>{t("alerts.cond_add")}</Button>
    </fieldset>
  );
}
