// A file-manager session: POST /api/v1/file, then listings over WS /api/v1/ws/file/{id}.
// The socket is closed on unmount or when the server changes.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { openFileSession, socketUrl } from "../../../api/ops";
import { Entry, listRequest, parseAnswer } from "../../../utils/filemsg";

export interface Listing {
  path: string;
  entries: Entry[] | null;
  error: string | null;
  loading: boolean;
  list: (path: string) => void;
}

export function useFileSocket(serverId: number, start: string): Listing {
  const socket = useRef<WebSocket | null>(null);
  const [path, setPath] = useState(start);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const wanted = useRef(start);
  useEffect(() => {
    let closed = false;
    openFileSession(serverId)
      .then(({ session_id }) => {
        if (closed) return;
        const ws = new WebSocket(socketUrl("file", session_id));
        ws.binaryType = "arraybuffer";
        ws.onopen = () => ws.send(listRequest(wanted.current));
        ws.onmessage = (e) => {
          const answer = parseAnswer(e.data as ArrayBuffer);
          setLoading(false);
          if (answer.kind === "list") {
            setPath(answer.path);
            setEntries(answer.entries);
            setError(null);
          } else if (answer.kind === "error") setError(answer.message);
        };
        ws.onclose = (e) => {
          if (!closed) setError(e.reason || "the file session ended; reload the page to start a new one");
        };
        socket.current = ws;
      })
      .catch((err: unknown) => {
        setLoading(false);
        setError(err instanceof Error ? err.message : String(err));
      });
    return () => {
      closed = true;
      socket.current?.close();
      socket.current = null;
    };
  }, [serverId]);
  const list = useCallback((next: string) => {
    wanted.current = next;
    setLoading(true);
    if (socket.current?.readyState === WebSocket.OPEN) socket.current.send(listRequest(next));
  }, []);
  return { path, entries, error, loading, list };
}
