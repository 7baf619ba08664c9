import { useEffect, useRef, useState } from "react";
import { ApiError, errorText, request, setCsrfToken, setUnauthorizedHandler } from "./api";
import { startLiveEvents, stopLiveEvents, useLiveStatus } from "./live-events";
import { DeadLettersPage } from "./pages/dead-letters";
import { LoginPage } from "./pages/login";
import { OverviewPage } from "./pages/overview";
import { SchedulesPage } from "./pages/schedules";
import { SubmitPage } from "./pages/submit";
import { TaskDetailPage } from "./pages/task-detail";
import { TasksPage } from "./pages/tasks";
import { WorkersPage } from "./pages/workers";
import { Link, navigate, taskIdOf, useLocation } from "./router";
import { SessionContext } from "./session";
import { Problem } from "./status-badge";
import type { Session } from "./wire";

// The shell: finds out whether there is a session, sends a logged-out visitor to /login (keeping
// where they wanted to go in ?next=), and otherwise shows the navigation and the current page.

const PAGES = [
  { path: "/", label: "Overview" },
  { path: "/tasks", label: "Tasks" },
  { path: "/submit", label: "Submit", operatorOnly: true },
  { path: "/schedules", label: "Schedules" },
  { path: "/dlq", label: "Dead letters" },
  { path: "/workers", label: "Workers" },
] as const;

/** Only same-site paths: ?next= must not turn the login page into an open redirect. */
function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : "/";
}

export function App(): React.JSX.Element {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [startError, setStartError] = useState<string>();
  const location = useLocation();

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    request<Session>("/auth/session", { quiet401: true })
      .then((s) => {
        setCsrfToken(s.csrf_token);
        setSession(s);
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) setSession(null);
        else setStartError(errorText(error));
      });
  }, []);

  useEffect(() => {
    if (session) startLiveEvents();
    else stopLiveEvents();
  }, [session]);

  useEffect(() => {
    if (session === null && location.path !== "/login") {
      const here = location.path + location.search;
      navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
    } else if (session && location.path === "/login") {
      navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
    }
  }, [session, location.path, location.search]);

  if (startError) return <Problem message={startError} />;
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null || location.path === "/login") {
    return (
      <LoginPage
        onLogin={(s) => {
          setCsrfToken(s.csrf_token);
          setSession(s);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} onLogout={() => setSession(null)} path={location.path} />
    </SessionContext.Provider>
  );
}

function Shell(props: { session: Session; onLogout: () => void; path: string }): React.JSX.Element {
  const { session, onLogout, path } = props;
  const [logoutError, setLogoutError] = useState<string>();
  const canOperate = session.operator.role === "operator";
  const logout = () => {
    request("/auth/logout", { method: "POST" })
      .then(() => {
        setCsrfToken("");
        onLogout();
      })
      .catch((error: unknown) => setLogoutError(errorText(error)));
  };
  const section = path.startsWith("/tasks") ? "/tasks" : path;
  // After a client-side navigation, keyboard and screen-reader focus starts at the new page.
  const firstPath = useRef(path);
  useEffect(() => {
    if (path !== firstPath.current) document.getElementById("main")?.focus({ preventScroll: true });
    firstPath.current = "";
  }, [path]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          GoTaskQ
        </Link>
        <nav aria-label="Pages">
          <ul>
            {PAGES.filter((p) => canOperate || !("operatorOnly" in p)).map((p) => (
              <li key={p.path}>
                <Link to={p.path} aria-current={section === p.path ? "page" : undefined}>
                  {p.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <LiveIndicator />
          <span className="operator" title={`Role: ${session.operator.role}`}>
            {session.operator.name} <span className="role">{session.operator.role}</span>
          </span>
          <button type="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <Problem message={logoutError} />
      <main id="main" tabIndex={-1}>
        <Page path={path} canOperate={canOperate} />
      </main>
    </>
  );
}

function Page(props: { path: string; canOperate: boolean }): React.JSX.Element {
  const { path, canOperate } = props;
  const taskId = taskIdOf(path);
  if (taskId) return <TaskDetailPage key={taskId} id={taskId} />;
  switch (path) {
    case "/":
      return <OverviewPage />;
    case "/tasks":
      return <TasksPage />;
    case "/submit":
      return canOperate ? (
        <SubmitPage />
      ) : (
        <Problem message="Submitting tasks needs the operator role; you are logged in as a viewer." />
      );
    case "/schedules":
      return <SchedulesPage />;
    case "/dlq":
      return <DeadLettersPage />;
    case "/workers":
      return <WorkersPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at {path}. Go to the <Link to="/">overview</Link>.
          </p>
        </section>
      );
  }
}

function LiveIndicator(): React.JSX.Element {
  const status = useLiveStatus();
  const text = status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Offline";
  return (
    <span className={`live live-${status}`} role="status" title="Live updates (server-sent events)">
      {text}
    </span>
  );
}
