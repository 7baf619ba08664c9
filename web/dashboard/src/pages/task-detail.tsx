import { useEffect, useState } from "react";
import { errorText, request } from "../api";
import { formatAttempt, formatDuration, formatTime } from "../format";
import { JsonView } from "../json-view";
import { useLiveEvents } from "../live-events";
import { Link } from "../router";
import { useSession } from "../session";
import { Problem, StatusBadge } from "../status-badge";
import { useData, useThrottled } from "../use-data";
import {
  FINAL_STATUSES,
  isNewer,
  type TaskLogLine,
  type TaskLogLines,
  type TaskRecord,
} from "../wire";
import { type Step, Timeline } from "./task-timeline";

// One task, live: its record (payload, result or error with stack, attempts), a timeline of
// status changes, the handler's log lines, and Cancel / Requeue for operators. Everything the
// task carries is attacker-controlled and is rendered as text.

export function TaskDetailPage(props: { id: string }): React.JSX.Element {
  const { id } = props;
  const { canOperate } = useSession();
  const loaded = useData(
    (signal) => request<TaskRecord>(`/v1/tasks/${encodeURIComponent(id)}`, { signal }),
    [id],
  );
  const logs = useData(
    (signal) => request<TaskLogLines>(`/v1/tasks/${encodeURIComponent(id)}/logs`, { signal }),
    [id],
  );
  const [task, setTask] = useState<TaskRecord>();
  const [seen, setSeen] = useState<Step[]>([]);
  const [action, setAction] = useState<{ busy?: boolean; message?: string; error?: string }>({});
  const reloadLogs = useThrottled(logs.reload, 500);

  const observe = (next: TaskRecord) => {
    setTask((current) => (current && !isNewer(next, current) ? current : next));
    setSeen((steps) =>
      steps.some(
        (s) => s.status === next.status && s.run === next.run && s.attempt === next.attempt,
      )
        ? steps
        : [
            ...steps,
            { status: next.status, run: next.run, attempt: next.attempt, at: next.updated_at },
          ],
    );
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: observe only reads setters
  useEffect(() => {
    if (loaded.data) observe(loaded.data);
  }, [loaded.data]);
  // Tracking is written just after the broker accepted the task, so a page opened right after
  // a submission can ask too early: a 404 is asked again for a while (live events fill in too).
  const [retries, setRetries] = useState(0);
  useEffect(() => {
    if (loaded.errorStatus !== 404 || task || retries >= 20) return;
    const timer = setTimeout(() => {
      setRetries((n) => n + 1);
      loaded.reload();
    }, 500);
    return () => clearTimeout(timer);
  }, [loaded.errorStatus, loaded.reload, task, retries]);
  useLiveEvents((event) => {
    if (event.kind === "resync") {
      loaded.reload();
      reloadLogs();
    } else if (event.task.id === id) {
      observe(event.task);
      reloadLogs();
    }
  });

  const act = (verb: "cancel" | "requeue") => {
    setAction({ busy: true });
    request(`/v1/tasks/${encodeURIComponent(id)}/${verb}`, {
      method: "POST",
      ...(verb === "requeue" ? { body: {} } : {}),
    })
      .then(() => {
        setAction({ message: verb === "cancel" ? "Cancel requested." : "Requeued as a new run." });
        loaded.reload();
      })
      .catch((error: unknown) => setAction({ error: errorText(error) }));
  };

  if (!task) {
    const missing = loaded.error && (loaded.errorStatus !== 404 || retries >= 20);
    return (
      <section>
        <h1>Task</h1>
        {missing ? <Problem message={loaded.error} /> : <p className="loading">Loading…</p>}
        <p>
          <Link to="/tasks">Back to tasks</Link>
        </p>
      </section>
    );
  }
  const active = task.status === "PENDING" || task.status === "STARTED";
  const requeueable = task.status === "FAILURE" || task.status === "CANCELED";
  return (
    <section aria-labelledby="task-title" className="task-detail">
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> /
      </p>
      <h1 id="task-title">
        <span className="mono task-id">{task.id}</span> <StatusBadge status={task.status} />
      </h1>
      {canOperate && (active || requeueable || action.message) && (
        <div className="actions">
          {active && (
            <button
              type="button"
              className="danger"
              disabled={action.busy}
              onClick={() => act("cancel")}
            >
              Cancel task
            </button>
          )}
          {requeueable && (
            <button
              type="button"
              className="primary"
              disabled={action.busy}
              onClick={() => act("requeue")}
            >
              Requeue
            </button>
          )}
          {action.message && (
            <span className="note" role="status">
              {action.message}
            </span>
          )}
        </div>
      )}
      <Problem message={action.error} />
      <div className="detail-grid">
        <Facts task={task} />
        <Timeline task={task} seen={seen} lines={logs.data?.lines ?? []} />
      </div>
      <h2>Payload</h2>
      <JsonView value={task.payload} label="Payload" />
      {(task.status === "SUCCESS" || (task.result !== undefined && task.result !== null)) && (
        <>
          <h2>Result</h2>
          <JsonView value={task.result} label="Result" />
        </>
      )}
      {task.error && <ErrorBlock error={task.error} final={FINAL_STATUSES.has(task.status)} />}
      <h2>Log lines</h2>
      <Problem message={logs.error} />
      <Logs lines={logs.data?.lines} />
    </section>
  );
}

function Facts(props: { task: TaskRecord }): React.JSX.Element {
  const { task } = props;
  const facts: Array<[string, string]> = [
    ["Function", task.function_key ?? "—"],
    ["Queue", task.queue ?? "—"],
    ["Priority", task.priority == null ? "—" : String(task.priority)],
    ["Attempt", formatAttempt(task.attempt, task.max_retries)],
    ["Run", String(task.run)],
    ["Deliveries", task.delivery_count == null ? "—" : String(task.delivery_count)],
    ["Timeout", formatDuration(task.timeout_ms)],
    ["Worker", task.worker_id ?? "—"],
    ["Created", formatTime(task.created_at)],
    ["Started", formatTime(task.started_at)],
    ["Completed", formatTime(task.completed_at)],
    ["Duration", formatDuration(task.duration_ms)],
  ];
  if (task.run_at) facts.push(["Runs at", formatTime(task.run_at)]);
  if (task.idempotency_key) facts.push(["Idempotency key", task.idempotency_key]);
  if (task.dead_letter_reason) facts.push(["Dead-letter reason", task.dead_letter_reason]);
  for (const [key, value] of Object.entries(task.metadata ?? {}))
    facts.push([`meta: ${key}`, value]);
  return (
    <dl className="facts card">
      {facts.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd data-fact={label}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ErrorBlock(props: {
  error: NonNullable<TaskRecord["error"]>;
  final: boolean;
}): React.JSX.Element {
  const { error, final } = props;
  return (
    <>
      <h2>{final ? "Error" : "Last error (a retry is pending)"}</h2>
      <div className="error-block card">
        <p className="error-message">
          {error.type && <strong>{error.type}: </strong>}
          {error.message ?? "(no message)"}
        </p>
        {error.stack && (
          <details open>
            <summary>Stack trace</summary>
            <pre className="stack">{error.stack}</pre>
          </details>
        )}
      </div>
    </>
  );
}

function Logs(props: { lines: TaskLogLine[] | undefined }): React.JSX.Element {
  if (!props.lines) return <p className="loading">Loading…</p>;
  if (props.lines.length === 0) return <p className="empty">No log lines.</p>;
  return (
    <ol className="logs">
      {props.lines.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: log lines have no id and never reorder
        <li key={i} className={`log log-${line.level}`}>
          <time dateTime={line.at}>{formatTime(line.at)}</time>{" "}
          <span className="log-level">{line.level}</span>{" "}
          <span className="muted">attempt {line.attempt}</span>{" "}
          <span className="log-message">{line.message}</span>
        </li>
      ))}
    </ol>
  );
}
