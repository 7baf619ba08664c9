import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

// Client routing on the History API: the URL is the state (path and query), `navigate` pushes
// or replaces it, and components read it through useLocation. Real <a href> links, so a middle
// click or "open in new tab" still works; the server serves index.html for every page route.

const CHANGE = "gotaskq:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export interface AppLocation {
  path: string;
  /** "" or "?…" */
  search: string;
  params: URLSearchParams;
}

export function useLocation(): AppLocation {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, window.location.origin);
  return { path: url.pathname, search: url.search, params: url.searchParams };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new Event(CHANGE));
  if (!options.replace) window.scrollTo(0, 0);
}

export function Link(
  props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string },
): React.JSX.Element {
  const { to, onClick, ...rest } = props;
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={to} onClick={handle} />;
}

/** `/tasks/<id>` → id; undefined for any other path. */
export function taskIdOf(path: string): string | undefined {
  const match = /^\/tasks\/([^/]+)$/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
