import { useEffect, useRef, useState } from "preact/hooks";
import { openTerminal, socketUrl } from "../../api/ops";
import type { Server } from "../../api/types";
import { Button } from "../../components/ui/Button";
import { Notice } from "../../components/ui/Notice";
import { useAction } from "../../hooks/useAction";
import { t } from "../../i18n";
import "@xterm/xterm/css/xterm.css";
import { ServerGate } from "./ServerGate";
import type { Attached } from "./xterm";

type Phase = "idle" | "open" | "ended";

/** A shell on one server: a session from POST /api/v1/terminal, carried over its WebSocket. */
function Session({ server }: { server: Server }) {
  const box = useRef<HTMLDivElement>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  const live = useRef<{ socket: WebSocket; view: Attached } | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  const [ended, setEnded] = useState("");
  const end = () => {
    live.current?.socket.close();
    live.current?.view.dispose();
    live.current = null;
  };
  useEffect(() => end, [server.id]);
  const open = useAction(async () => {
    end();
    const [{ session_id }, { attach }] = await Promise.all([openTerminal(server.id), import("./xterm")]);
    const socket = new WebSocket(socketUrl("terminal", session_id));
    socket.addEventListener("close", (e) => {
      setPhase("ended");
      setEnded(e.reason || t("ops.terminal_closed"));
    });
    const view = attach(box.current!, socket, t("ops.terminal_input", { name: server.name }), () => closeButton.current?.focus());
    live.current = { socket, view };
    setEnded("");
    setPhase("open");
    view.focus();
  });
  return (
    <section class="card stack" aria-labelledby="terminal-title">
      <div class="page-head">
        <h2 id="terminal-title">{t("ops.terminal_on", { name: server.name })}</h2>
        <div class="row">
          <Button kind="primary" busy={open.running} onClick={() => void open.run()}>
            {phase === "idle" ? t("ops.terminal_open") : t("ops.terminal_reopen")}
          </Button>
          <button ref={closeButton} type="button" class="btn btn-plain" disabled={phase !== "open"} onClick={() => (end(), setPhase("ended"), setEnded(t("ops.terminal_closed")))}>
            {t("ops.terminal_close")}
          </button>
        </div>
      </div>
      <Notice>{open.error}</Notice>
      {phase === "ended" && <Notice kind="info">{ended}</Notice>}
      {phase === "idle" && <p class="muted">{t("ops.terminal_intro")}</p>}
      <div ref={box} class={`terminal ${phase === "idle" ? "hidden" : ""}`} data-testid="terminal" />
      <small class="muted">{t("ops.terminal_keys")}</small>
    </section>
  );
}

export function TerminalTab() {
  return <ServerGate capability="terminal">{(server) => <Session key={server.id} server={server} />}</ServerGate>;
}
