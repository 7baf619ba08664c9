import { formatTime } from "../format";
import { StatusBadge } from "../status-badge";
import { FINAL_STATUSES, type TaskLogLine, type TaskRecord, type TaskStatus } from "../wire";

const RANK: Record<TaskStatus, number> = {
  PENDING: 0,
  STARTED: 1,
  SUCCESS: 2,
  FAILURE: 2,
  CANCELED: 2,
};

/** One status change of a task, as the timeline shows it. */
export interface Step {
  status: TaskStatus;
  run: number;
  attempt: number;
  at: string;
  /** Set on steps inferred from log lines rather than reported. */
  note?: string;
}

/**
 * Status changes: the record's own times, every change seen live on this page, and earlier
 * attempts of the current run from their log lines (the record keeps only the latest attempt;
 * an attempt number only moves on after a failure, so an earlier attempt that logged is one that
 * ran and failed).
 */
export function Timeline(props: {
  task: TaskRecord;
  seen: Step[];
  lines: TaskLogLine[];
}): React.JSX.Element {
  const { task, seen, lines } = props;
  const steps: Step[] = [];
  const add = (step: Step) => {
    const same = steps.find(
      (s) => s.status === step.status && s.run === step.run && s.attempt === step.attempt,
    );
    if (!same) steps.push(step);
    else if (step.at < same.at) same.at = step.at;
  };
  if (task.created_at) add({ status: "PENDING", run: 0, attempt: 0, at: task.created_at });
  for (const step of seen) add(step);
  if (task.run === 0) {
    for (let attempt = 0; attempt < task.attempt; attempt++) {
      const logged = lines.filter((l) => l.attempt === attempt);
      const first = logged[0];
      const last = logged[logged.length - 1];
      if (!first || !last) continue;
      add({ status: "STARTED", run: 0, attempt, at: first.at, note: "from its log lines" });
      add({ status: "FAILURE", run: 0, attempt, at: last.at, note: "retried" });
    }
  }
  if (task.started_at)
    add({ status: "STARTED", run: task.run, attempt: task.attempt, at: task.started_at });
  if (task.completed_at && FINAL_STATUSES.has(task.status))
    add({ status: task.status, run: task.run, attempt: task.attempt, at: task.completed_at });
  // Same-millisecond steps (a fast task) fall back to the state machine's order.
  steps.sort(
    (a, b) =>
      a.at.localeCompare(b.at) ||
      a.run - b.run ||
      a.attempt - b.attempt ||
      RANK[a.status] - RANK[b.status],
  );
  return (
    <div className="card timeline-card">
      <h2>Timeline</h2>
      <ol className="timeline" aria-label="Status changes">
        {steps.map((step) => (
          <li key={`${step.run}.${step.attempt}.${step.status}`} data-status={step.status}>
            <StatusBadge status={step.status} />{" "}
            <span className="muted">
              {step.run > 0 ? `run ${step.run}, ` : ""}attempt {step.attempt}
            </span>{" "}
            {step.note && <span className="muted">({step.note})</span>}{" "}
            <time dateTime={step.at}>{formatTime(step.at, true)}</time>
          </li>
        ))}
      </ol>
    </div>
  );
}
