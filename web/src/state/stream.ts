// One live stream of servers for the whole UI: the overview and a server page share it (no
// reconnect when moving between them), main.tsx opens it before the first render on the
// overview's address, and it closes a while after the last page stops listening.
import { cookie } from "../api/client";
import { followServers } from "../api/servers";
import type { Frame } from "../api/types";

export interface Listener {
  onFrame(frame: Frame): void;
  onState(connected: boolean): void;
}

/** How long the stream stays open with nobody listening (a quick back-and-forth keeps it). */
const IDLE_MS = 10_000;

const listeners = new Set<Listener>();
let stop: (() => void) | null = null;
let openedAs = "";
let last: Frame | null = null;
let connected = false;
let idle: number | undefined;

/** Who the stream was opened for: the login's CSRF cookie changes with each login and logout. */
function caller(): string {
  return cookie("heron_csrf");
}

function open(): void {
  stop?.();
  last = null;
  openedAs = caller();
  stop = followServers({
    onFrame: (frame) => {
      last = frame;
      listeners.forEach((l) => l.onFrame(frame));
    },
    onState: (state) => {
      connected = state;
      listeners.forEach((l) => l.onState(state));
    },
  });
}

function closeWhenIdle(): void {
  window.clearTimeout(idle);
  idle = window.setTimeout(() => {
    if (listeners.size) return;
    stop?.();
    stop = null;
    last = null;
  }, IDLE_MS);
}

/** Open the stream ahead of the page that will read it. */
export function warmUp(): void {
  if (!stop || openedAs !== caller()) open();
  if (!listeners.size) closeWhenIdle();
}

/** Listen to the stream (opened, or reopened for a new login, as needed); returns the unsubscribe. */
export function subscribe(listener: Listener): () => void {
  window.clearTimeout(idle);
  if (!stop || openedAs !== caller()) open();
  listeners.add(listener);
  listener.onState(connected);
  if (last) listener.onFrame(last);
  return () => {
    listeners.delete(listener);
    if (!listeners.size) closeWhenIdle();
  };
}
