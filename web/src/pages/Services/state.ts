// A monitor's state in one word, from how many vantage points see it up and down now.
import type { Key } from "../../i18n";

export type MonitorState = "up" | "down" | "partial" | "pending" | "paused";

export function stateOf(enabled: boolean, up: number, down: number): MonitorState {
  if (!enabled) return "paused";
  if (down > 0 && up === 0) return "down";
  if (down > 0) return "partial";
  if (up > 0) return "up";
  return "pending";
}

export const STATE_TEXT: Record<MonitorState, Key> = {
  up: "services.state_up",
  down: "services.state_down",
  partial: "services.state_partial",
  pending: "services.state_pending",
  paused: "services.state_paused",
};

/** A vantage point's state word (up, degraded, down, pending). */
export function vantageText(state: string): Key {
  return state === "up" ? "services.state_up" : state === "down" ? "services.state_down" : state === "degraded" ? "services.state_degraded" : "services.state_pending";
}
