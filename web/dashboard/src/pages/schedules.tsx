import { type FormEvent, useState } from "react";
import { errorText, query, request } from "../api";
import { formatAgo, formatTime } from "../format";
import { parsePayload } from "../payload-check";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import { Problem, StatusBadge } from "../status-badge";
import { useData, useNow } from "../use-data";
import type { Schedule, ScheduleList, SubmittedTask, TaskPage } from "../wire";

// Schedules (cron or interval, stored in the coordination store and fired by every scheduler
// process): the list with each one's next run and last outcome, a form to create one, pause,
// resume and trigger now (operators), and the history of the selected schedule's tasks. The
// server validates every schedule and says what to change; the form shows that message.

export function SchedulesPage(): React.JSX.Element {
  const { canOperate } = useSession();
  const location = useLocation();
  const selected = location.params.get("schedule") ?? undefined;
  const list = useData((signal) => request<ScheduleList>("/v1/schedules", { signal }), [], {
    refreshMs: 5_000,
  });
  const [actionError, setActionError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const act = (id: string, verb: "pause" | "resume" | "trigger") => {
    setActionError(undefined);
    request<Schedule | SubmittedTask>(`/v1/schedules/${encodeURIComponent(id)}/${verb}`, {
      method: "POST",
    })
      .then((answer) => {
        if (verb === "trigger") {
          setNotice(`Triggered ${id}: task ${(answer as SubmittedTask).id}`);
          navigate(`/schedules?schedule=${encodeURIComponent(id)}`, { replace: true });
        } else {
          setNotice(`${verb === "pause" ? "Paused" : "Resumed"} ${id}`);
        }
        list.reload();
      })
      .catch((error: unknown) => setActionError(errorText(error)));
  };
  const schedules = list.data?.schedules ?? [];

  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      <Problem message={list.error} />
      <Problem message={actionError} />
      {notice && (
        <p className="ok" role="status">
          {notice}
        </p>
      )}
      {list.data && schedules.length === 0 && <p className="empty">No schedules yet.</p>}
      {schedules.length > 0 && (
        <ScheduleTable
          schedules={schedules}
          canOperate={canOperate}
          selected={selected}
          onAction={act}
        />
      )}
      {selected && <History key={selected} id={selected} />}
      {canOperate && <CreateForm onCreated={list.reload} />}
    </section>
  );
}

function whenOf(s: Schedule): string {
  return s.every ? `every ${s.every}` : `${s.cron} (${s.timezone ?? "UTC"})`;
}

function ScheduleTable(props: {
  schedules: Schedule[];
  canOperate: boolean;
  selected: string | undefined;
  onAction: (id: string, verb: "pause" | "resume" | "trigger") => void;
}): React.JSX.Element {
  const now = useNow(1_000);
  return (
    <div className="table-wrap">
      <table className="tasks responsive">
        <thead>
          <tr>
            <th scope="col">Schedule</th>
            <th scope="col">When</th>
            <th scope="col">Function</th>
            <th scope="col">Next run</th>
            <th scope="col">Last outcome</th>
            {props.canOperate && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {props.schedules.map((s) => (
            <tr
              key={s.id}
              data-schedule-id={s.id}
              aria-selected={props.selected === s.id ? true : undefined}
            >
              <td data-label="Schedule">
                <Link to={`/schedules?schedule=${encodeURIComponent(s.id)}`} className="mono">
                  {s.id}
                </Link>
                {s.paused && <span className="badge badge-paused"> paused</span>}
              </td>
              <td data-label="When">{whenOf(s)}</td>
              <td data-label="Function">{s.function_key}</td>
              <td data-label="Next run" title={formatTime(s.next_runs[0])}>
                {s.paused ? "—" : formatAgo(s.next_runs[0], now)}
              </td>
              <td data-label="Last outcome">
                <LastOutcome schedule={s} now={now} />
              </td>
              {props.canOperate && (
                <td data-label="Actions">
                  <div className="actions">
                    {s.paused ? (
                      <button type="button" onClick={() => props.onAction(s.id, "resume")}>
                        Resume
                      </button>
                    ) : (
                      <button type="button" onClick={() => props.onAction(s.id, "pause")}>
                        Pause
                      </button>
                    )}
                    <button type="button" onClick={() => props.onAction(s.id, "trigger")}>
                      Trigger now
                    </button>
                  </div>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function LastOutcome(props: { schedule: Schedule; now: number }): React.JSX.Element {
  const { schedule: s, now } = props;
  if (!s.last_outcome) return <span className="muted">none yet</span>;
  return (
    <div>
      {s.last_status ? (
        <StatusBadge status={s.last_status} />
      ) : (
        <span className="muted">{s.last_outcome.replace("_", " ")}</span>
      )}{" "}
      {s.last_task_id && (
        <Link to={`/tasks/${s.last_task_id}`} className="mono" title={s.last_task_id}>
          {s.last_task_id.slice(-8)}
        </Link>
      )}{" "}
      <span className="muted" title={formatTime(s.last_at)}>
        {formatAgo(s.last_at, now)}
      </span>
      {s.last_error && <span className="row-error">{s.last_error}</span>}
    </div>
  );
}

function History(props: { id: string }): React.JSX.Element {
  const { id } = props;
  const page = useData(
    (signal) =>
      request<TaskPage>(`/v1/schedules/${encodeURIComponent(id)}/tasks${query({ limit: "20" })}`, {
        signal,
      }),
    [id],
    { refreshMs: 2_000 },
  );
  const tasks = page.data?.tasks ?? [];
  return (
    <section aria-labelledby="history-title" className="card">
      <h2 id="history-title">Tasks of {id}</h2>
      <Problem message={page.error} />
      {page.data && tasks.length === 0 && <p className="empty">No tasks yet.</p>}
      {tasks.length > 0 && (
        <table className="tasks responsive">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Tick</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id} data-task-id={t.id}>
                <td data-label="Task">
                  <Link to={`/tasks/${t.id}`} className="mono">
                    {t.id}
                  </Link>
                </td>
                <td data-label="Tick">{formatTime(t.metadata["gotaskq.tick"])}</td>
                <td data-label="Trigger">{t.metadata["gotaskq.trigger"] ?? "tick"}</td>
                <td data-label="Status">
                  <StatusBadge status={t.status} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface Form {
  id: string;
  functionKey: string;
  kind: "every" | "cron";
  every: string;
  cron: string;
  timezone: string;
  payload: string;
  missed: "skip" | "catch_up";
  overlap: "allow" | "skip_if_running";
}

const EMPTY: Form = {
  id: "",
  functionKey: "",
  kind: "every",
  every: "1m",
  cron: "0 * * * *",
  timezone: "UTC",
  payload: "{}",
  missed: "skip",
  overlap: "allow",
};

function CreateForm(props: { onCreated: () => void }): React.JSX.Element {
  const [form, setForm] = useState<Form>(EMPTY);
  const [error, setError] = useState<string>();
  const [sending, setSending] = useState(false);
  const parsed = parsePayload(form.payload);
  const set =
    (key: keyof Form) =>
    (e: { target: { value: string } }): void =>
      setForm({ ...form, [key]: e.target.value });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!parsed.ok) return;
    setSending(true);
    setError(undefined);
    const body = {
      id: form.id.trim(),
      function_key: form.functionKey.trim(),
      ...(form.kind === "every"
        ? { every: form.every.trim() }
        : { cron: form.cron.trim(), timezone: form.timezone.trim() || "UTC" }),
      payload: parsed.value,
      missed: form.missed,
      overlap: form.overlap,
    };
    request<Schedule>("/v1/schedules", { body })
      .then((created) => {
        setForm(EMPTY);
        props.onCreated();
        navigate(`/schedules?schedule=${encodeURIComponent(created.id)}`, { replace: true });
      })
      .catch((e: unknown) => setError(errorText(e)))
      .finally(() => setSending(false));
  };

  return (
    <form className="submit-form card" onSubmit={submit} aria-labelledby="create-title" noValidate>
      <h2 id="create-title">New schedule</h2>
      <div className="field">
        <label htmlFor="schedule-id">Schedule id</label>
        <input id="schedule-id" value={form.id} onChange={set("id")} placeholder="nightly-report" />
      </div>
      <div className="field">
        <label htmlFor="schedule-function">Function key</label>
        <input
          id="schedule-function"
          value={form.functionKey}
          onChange={set("functionKey")}
          placeholder="demo.echo"
        />
      </div>
      <fieldset className="options">
        <legend>When</legend>
        <label className="check">
          <input
            type="radio"
            name="kind"
            checked={form.kind === "every"}
            onChange={() => setForm({ ...form, kind: "every" })}
          />
          Interval
        </label>
        <label className="check">
          <input
            type="radio"
            name="kind"
            checked={form.kind === "cron"}
            onChange={() => setForm({ ...form, kind: "cron" })}
          />
          Cron expression
        </label>
        {form.kind === "every" ? (
          <div className="field">
            <label htmlFor="schedule-every">Every</label>
            <input id="schedule-every" value={form.every} onChange={set("every")} />
            <p className="hint">At least 1s, e.g. 30s, 5m, 1h30m.</p>
          </div>
        ) : (
          <>
            <div className="field">
              <label htmlFor="schedule-cron">Cron</label>
              <input id="schedule-cron" className="mono" value={form.cron} onChange={set("cron")} />
              <p className="hint">5 fields (minute first), or 6 with seconds first.</p>
            </div>
            <div className="field">
              <label htmlFor="schedule-timezone">Time zone</label>
              <input id="schedule-timezone" value={form.timezone} onChange={set("timezone")} />
            </div>
          </>
        )}
      </fieldset>
      <div className="field">
        <label htmlFor="schedule-payload">Payload (JSON)</label>
        <textarea
          id="schedule-payload"
          className="mono"
          rows={4}
          spellCheck={false}
          value={form.payload}
          aria-invalid={!parsed.ok}
          onChange={set("payload")}
        />
        {!parsed.ok && <p className="problems">{parsed.message}</p>}
      </div>
      <div className="field">
        <label htmlFor="schedule-missed">Missed runs</label>
        <select id="schedule-missed" value={form.missed} onChange={set("missed")}>
          <option value="skip">skip</option>
          <option value="catch_up">catch up (the latest 10)</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="schedule-overlap">Overlap</label>
        <select id="schedule-overlap" value={form.overlap} onChange={set("overlap")}>
          <option value="allow">allow</option>
          <option value="skip_if_running">skip if the previous task still runs</option>
        </select>
      </div>
      <Problem message={error} />
      <button type="submit" className="primary" disabled={sending || !parsed.ok}>
        {sending ? "Creating…" : "Create schedule"}
      </button>
    </form>
  );
}
