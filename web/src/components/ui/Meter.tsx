import { pct } from "../../utils/format";

/** A labelled usage bar; the colour warns from 70 % and alarms from 90 %. */
export function Meter({ label, value, detail }: { label: string; value: number; detail?: string }) {
  const level = value >= 90 ? "bad" : value >= 70 ? "warn" : "ok";
  return (
    <div class="meter">
      <div class="meter-text">
        <span>{label}</span>
        <span>{detail ?? pct(value)}</span>
      </div>
      <div class={`meter-bar ${level}`} role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)}>
        <span style={{ width: `${Math.max(0, Math.min(100, value))}%` }} />
      </div>
    </div>
  );
}
