import { type FormEvent, useState } from "react";
import { ApiError, errorText, request } from "../api";
import { Problem } from "../status-badge";
import type { Session } from "../wire";

// Username and password against POST /auth/login. The server sets the HttpOnly session cookie
// and answers the CSRF token the app sends back on every state-changing request.

export function LoginPage(props: { onLogin: (session: Session) => void }): React.JSX.Element {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    request<Session>("/auth/login", { body: { username, password }, quiet401: true })
      .then((session) => props.onLogin(session))
      .catch((e: unknown) => {
        setBusy(false);
        if (e instanceof ApiError && e.status === 429)
          setError(
            `Too many login attempts; try again in ${e.retryAfterSeconds ?? "a few"} seconds.`,
          );
        else setError(errorText(e));
      });
  };

  return (
    <main id="main" className="login">
      <form onSubmit={submit} className="card login-card" aria-labelledby="login-title">
        <h1 id="login-title">GoTaskQ</h1>
        <p className="muted">Log in to the dashboard.</p>
        <div className="field">
          <label htmlFor="username">Username</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <Problem message={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
