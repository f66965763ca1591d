// The live list of servers from /api/v1/ws/server, kept in a reducer: only the latest frame is
// held, so memory stays flat however long the page is open.
import { useEffect, useReducer } from "preact/hooks";
import type { Frame, StreamServer } from "../../../api/types";
import { subscribe } from "../../../state/stream";

export interface StreamState {
  servers: StreamServer[];
  now: number;
  viewers: number;
  connected: boolean;
  frames: number;
}

export type StreamAction = { type: "frame"; frame: Frame } | { type: "connection"; connected: boolean };

export function streamReducer(state: StreamState, action: StreamAction): StreamState {
  switch (action.type) {
    case "frame":
      return {
        servers: action.frame.servers,
        now: action.frame.now,
        viewers: action.frame.online,
        connected: true,
        frames: state.frames + 1,
      };
    case "connection":
      return { ...state, connected: action.connected };
  }
}

export const EMPTY_STREAM: StreamState = { servers: [], now: 0, viewers: 0, connected: false, frames: 0 };

export function useServerStream(onFrame?: (frame: Frame) => void): StreamState {
  const [state, dispatch] = useReducer(streamReducer, EMPTY_STREAM);
  useEffect(
    () =>
      subscribe({
        onFrame: (frame) => {
          dispatch({ type: "frame", frame });
          onFrame?.(frame);
        },
        onState: (connected) => dispatch({ type: "connection", connected }),
      }),
    [],
  );
  return state;
}
