// The terminal emulator, in its own chunk: @xterm/xterm is loaded when a terminal is first opened,
// so the overview's first load does not carry it.
import { Terminal } from "@xterm/xterm";

export interface Attached {
  dispose: () => void;
  focus: () => void;
}

const encoder = new TextEncoder();

function frame(kind: 0 | 1, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = kind;
  out.set(payload, 1);
  return out;
}

/** Size in character cells that fits `el` (monospace cells are about 0.6 em wide, 1.2 em high). */
function cells(el: HTMLElement, fontSize: number): { cols: number; rows: number } {
  const cols = Math.max(20, Math.floor((el.clientWidth - 16) / (fontSize * 0.6)));
  const rows = Math.max(8, Math.floor((el.clientHeight - 8) / (fontSize * 1.2)));
  return { cols, rows };
}

/** Shows `socket`'s output in `el` and sends keystrokes (0x00 + bytes) and sizes (0x01 + JSON) back.
 * Shift+Escape leaves the terminal, since it keeps Tab for the shell. */
export function attach(el: HTMLElement, socket: WebSocket, label: string, onLeave: () => void): Attached {
  const fontSize = 14;
  const terminal = new Terminal({
    fontSize,
    fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
    cursorBlink: true,
    screenReaderMode: false,
    theme: { background: "#0f1419", foreground: "#e6e6e6", cursor: "#e6e6e6" },
    ...cells(el, fontSize),
  });
  terminal.open(el);
  terminal.textarea?.setAttribute("aria-label", label);
  terminal.attachCustomKeyEventHandler((e) => {
    if (e.type === "keydown" && e.key === "Escape" && e.shiftKey) {
      onLeave();
      return false;
    }
    return true;
  });
  const sendSize = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame(1, encoder.encode(JSON.stringify({ Cols: terminal.cols, Rows: terminal.rows }))));
  };
  // Keys typed while the socket is still connecting wait for it, rather than being lost.
  const early: Uint8Array[] = [];
  const input = terminal.onData((data) => {
    const bytes = frame(0, encoder.encode(data));
    if (socket.readyState === WebSocket.OPEN) socket.send(bytes);
    else if (socket.readyState === WebSocket.CONNECTING) early.push(bytes);
  });
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (e) => terminal.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer)));
  socket.addEventListener("open", () => {
    sendSize();
    for (const bytes of early.splice(0)) socket.send(bytes);
  });
  const observer = new ResizeObserver(() => {
    const { cols, rows } = cells(el, fontSize);
    if (cols !== terminal.cols || rows !== terminal.rows) {
      terminal.resize(cols, rows);
      sendSize();
    }
  });
  observer.observe(el);
  return {
    dispose: () => {
      observer.disconnect();
      input.dispose();
      terminal.dispose();
    },
    focus: () => terminal.focus(),
  };
}
