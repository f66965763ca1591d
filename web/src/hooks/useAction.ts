// A button's action: running (for a spinner and a disabled button), its error, and its result.
import { useCallback, useState } from "preact/hooks";

export interface Action<A extends unknown[]> {
  run: (...args: A) => Promise<boolean>;
  running: boolean;
  error: string | null;
  clear: () => void;
}

export function useAction<A extends unknown[]>(act: (...args: A) => Promise<unknown>): Action<A> {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setRunning(true);
      setError(null);
      try {
        await act(...args);
        return true;
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
        return false;
      } finally {
        setRunning(false);
      }
    },
    [act],
  );
  return { run, running, error, clear: () => setError(null) };
}
