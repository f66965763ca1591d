// History-API routing: the address bar is the state; links and navigate() push, Back pops.
import { useEffect, useState } from "preact/hooks";

const EVENT = "heron-navigate";

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event(EVENT));
  window.scrollTo(0, 0);
}

export interface Route {
  path: string;
  parts: string[];
  params: URLSearchParams;
}

function current(): Route {
  return {
    path: location.pathname,
    parts: location.pathname.split("/").filter(Boolean),
    params: new URLSearchParams(location.search),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    window.addEventListener("popstate", update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return route;
}
