import { useEffect } from "preact/hooks";

/** Calls `tick` every `ms` while the page is open (states change by themselves). */
export function useEvery(ms: number, tick: () => void): void {
  useEffect(() => {
    const timer = window.setInterval(tick, ms);
    return () => window.clearInterval(timer);
  }, [ms, tick]);
}
