// A bounded buffer of one server's live values from the stream: the last LIVE_POINTS reports.
import { useRef, useState } from "preact/hooks";
import type uPlot from "uplot";
import type { Frame, StreamServer } from "../../../api/types";
import { percent } from "../../../utils/format";
import { useServerStream } from "../../Servers/hooks/useServerStream";

export const LIVE_POINTS = 300;

export interface LiveBuffer {
  t: number[];
  cpu: number[];
  mem: number[];
  netIn: number[];
  netOut: number[];
  load: number[];
}

export function emptyBuffer(): LiveBuffer {
  return { t: [], cpu: [], mem: [], netIn: [], netOut: [], load: [] };
}

/** Appends a report unless it is the one already last; drops the oldest beyond LIVE_POINTS. */
export function appendReport(buf: LiveBuffer, s: StreamServer): boolean {
  const at = Date.parse(s.last_active) / 1000;
  if (!Number.isFinite(at) || (buf.t.length && buf.t[buf.t.length - 1] >= at)) return false;
  buf.t.push(at);
  buf.cpu.push(s.state.cpu);
  buf.mem.push(percent(s.state.mem_used, s.host.mem_total));
  buf.netIn.push(s.state.net_in_speed);
  buf.netOut.push(s.state.net_out_speed);
  buf.load.push(s.state.load_1);
  if (buf.t.length > LIVE_POINTS) for (const series of Object.values(buf)) series.shift();
  return true;
}

export interface Live {
  server: StreamServer | null;
  connected: boolean;
  frames: number;
  data: { cpu: uPlot.AlignedData; mem: uPlot.AlignedData; net: uPlot.AlignedData; load: uPlot.AlignedData };
}

export function useLive(id: number): Live {
  const buf = useRef(emptyBuffer());
  const [version, setVersion] = useState(0);
  const onFrame = (frame: Frame) => {
    const s = frame.servers.find((x) => x.id === id);
    if (s && s.online && appendReport(buf.current, s)) setVersion((v) => v + 1);
  };
  const stream = useServerStream(onFrame);
  const b = buf.current;
  const data = useRef({ version: -1, value: null as Live["data"] | null });
  if (data.current.version !== version || !data.current.value) {
    data.current = {
      version,
      value: {
        cpu: [b.t.slice(), b.cpu.slice()],
        mem: [b.t.slice(), b.mem.slice()],
        net: [b.t.slice(), b.netIn.slice(), b.netOut.slice()],
        load: [b.t.slice(), b.load.slice()],
      },
    };
  }
  return {
    server: stream.servers.find((x) => x.id === id) ?? null,
    connected: stream.connected,
    frames: stream.frames,
    data: data.current.value!,
  };
}
