// Who is using the UI and how: site settings, the signed-in user (or a guest), language, theme.
import { createContext, ComponentChildren } from "preact";
import { useContext, useEffect, useReducer } from "preact/hooks";
import { getProfile, getSetting } from "../api/account";
import { ApiError, cookie, setUnauthorizedHandler } from "../api/client";
import type { Setting, User } from "../api/types";
import { Language, pickLanguage, setLanguage } from "../i18n";

export interface Session {
  ready: boolean;
  setting: Setting | null;
  user: User | null;
  language: Language;
  error: string | null;
}

export type SessionAction =
  | { type: "loaded"; setting: Setting; user: User | null }
  | { type: "failed"; error: string }
  | { type: "user"; user: User | null }
  | { type: "setting"; setting: Setting }
  | { type: "language"; language: Language };

export function sessionReducer(state: Session, action: SessionAction): Session {
  switch (action.type) {
    case "loaded":
      return { ...state, ready: true, setting: action.setting, user: action.user, error: null };
    case "failed":
      return { ...state, ready: true, error: action.error };
    case "user":
      return { ...state, user: action.user };
    case "setting":
      return { ...state, setting: action.setting };
    case "language":
      return { ...state, language: action.language };
  }
}

interface Context {
  session: Session;
  dispatch: (action: SessionAction) => void;
  refresh: () => Promise<void>;
}

const SessionContext = createContext<Context | null>(null);

async function load(): Promise<{ setting: Setting; user: User | null }> {
  // Without the CSRF cookie there is no login to ask about (and no 401 to log in the console).
  const signedIn = cookie("heron_csrf") !== "";
  const [setting, user] = await Promise.all([
    getSetting(),
    (signedIn ? getProfile() : Promise.resolve(null)).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    }),
  ]);
  return { setting, user };
}

export function SessionProvider({ children }: { children: ComponentChildren }) {
  const [session, dispatch] = useReducer(sessionReducer, {
    ready: false,
    setting: null,
    user: null,
    language: "en",
    error: null,
  });
  const refresh = async () => {
    try {
      const { setting, user } = await load();
      const language = pickLanguage(setting.config.language);
      setLanguage(language);
      dispatch({ type: "language", language });
      dispatch({ type: "loaded", setting, user });
    } catch (err) {
      dispatch({ type: "failed", error: err instanceof Error ? err.message : String(err) });
    }
  };
  useEffect(() => {
    void refresh();
    setUnauthorizedHandler(() => dispatch({ type: "user", user: null }));
    return () => setUnauthorizedHandler(null);
  }, []);
  return <SessionContext.Provider value={{ session, dispatch, refresh }}>{children}</SessionContext.Provider>;
}

export function useSession(): Context {
  const found = useContext(SessionContext);
  if (!found) throw new Error("useSession outside SessionProvider");
  return found;
}
