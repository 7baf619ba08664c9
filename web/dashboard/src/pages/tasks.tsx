import { useEffect, useMemo, useState } from "react";
import { query, request } from "../api";
import { formatAgo, formatAttempt, formatDuration, formatTime } from "../format";
import { useLiveEvents } from "../live-events";
import { Link, navigate, useLocation } from "../router";
import { Problem, StatusBadge } from "../status-badge";
import {
  filterFromParams,
  filterToSearch,
  listParams,
  matchesFilter,
  type TaskFilter,
  timeWindow,
} from "../task-filter";
import { useData, useNow } from "../use-data";
import { isNewer, type TaskPage, type TaskRecord } from "../wire";
import { TaskFiltersForm } from "./task-filters-form";

// The task list: newest first, filtered (status, function, queue, time range, search), paged by
// cursor. Live events are applied to the loaded rows: a new matching task appears at the top of
// the first page, a changed one is updated in place or leaves when it no longer matches.

const PAGE_SIZE = 50;
const MAX_ROWS = 200;

export function TasksPage(): React.JSX.Element {
  const location = useLocation();
  const filter = useMemo(
    () => filterFromParams(new URLSearchParams(location.search)),
    [location.search],
  );
  const [cursors, setCursors] = useState<string[]>([]);
  const [rows, setRows] = useState<TaskRecord[]>([]);
  const cursor = cursors[cursors.length - 1];
  // The window is fixed when the filter is applied, so live rows are judged like loaded ones.
  // biome-ignore lint/correctness/useExhaustiveDependencies: recomputed per applied filter
  const span = useMemo(() => timeWindow(filter, Date.now()), [location.search]);

  const page = useData(
    (signal) =>
      request<TaskPage>(
        `/v1/tasks${query({ ...listParams(filter, span), limit: String(PAGE_SIZE), cursor })}`,
        { signal },
      ),
    [location.search, cursor],
  );
  useEffect(() => {
    if (page.data) setRows(page.data.tasks);
  }, [page.data]);

  const setFilter = (next: TaskFilter) => {
    setCursors([]);
    navigate(`/tasks${filterToSearch(next)}`, { replace: true });
  };

  useLiveEvents((event) => {
    if (event.kind === "resync") return page.reload();
    const task = event.task;
    setRows((current) => {
      const index = current.findIndex((t) => t.id === task.id);
      const matches = matchesFilter(task, filter, span);
      if (index >= 0) {
        const existing = current[index] as TaskRecord;
        if (!isNewer(task, existing)) return current;
        if (!matches) return current.filter((t) => t.id !== task.id);
        const next = current.slice();
        next[index] = task;
        return next;
      }
      if (!matches || cursors.length > 0) return current;
      return [task, ...current].slice(0, MAX_ROWS);
    });
  });

  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Tasks</h1>
      <TaskFiltersForm filter={filter} onChange={setFilter} />
      <Problem message={page.error} />
      <p className="list-meta" aria-live="polite">
        {page.loading && !page.data
          ? "Loading…"
          : `${rows.length} task${rows.length === 1 ? "" : "s"} on this page`}
        {cursors.length === 0 ? " · new tasks appear live" : ` · page ${cursors.length + 1}`}
      </p>
      <TaskTable tasks={rows} stale={page.loading} />
      <nav className="pager" aria-label="Pages of tasks">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          ← Newer
        </button>
        <button
          type="button"
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
        >
          Next →
        </button>
      </nav>
    </section>
  );
}

function TaskTable(props: { tasks: TaskRecord[]; stale: boolean }): React.JSX.Element {
  const now = useNow(5_000);
  if (props.tasks.length === 0)
    return <p className="empty">{props.stale ? "Loading…" : "No tasks match."}</p>;
  return (
    <div className={props.stale ? "table-wrap stale" : "table-wrap"} aria-busy={props.stale}>
      <table className="tasks responsive">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Function</th>
            <th scope="col">Queue</th>
            <th scope="col">Status</th>
            <th scope="col">Attempt</th>
            <th scope="col">Created</th>
            <th scope="col">Duration</th>
          </tr>
        </thead>
        <tbody>
          {props.tasks.map((task) => (
            <tr key={task.id} data-task-id={task.id}>
              <td data-label="Task">
                <Link to={`/tasks/${task.id}`} className="mono">
                  {task.id}
                </Link>
              </td>
              <td data-label="Function">{task.function_key ?? "—"}</td>
              <td data-label="Queue">{task.queue ?? "—"}</td>
              <td data-label="Status">
                <div>
                  <StatusBadge status={task.status} />
                  {task.error?.message && task.status !== "SUCCESS" && (
                    <span className="row-error" title={task.error.message}>
                      {task.error.message.slice(0, 120)}
                    </span>
                  )}
                </div>
              </td>
              <td data-label="Attempt">
                {formatAttempt(task.attempt, task.max_retries)}
                {task.run > 0 ? `, run ${task.run}` : ""}
              </td>
              <td data-label="Created" title={formatTime(task.created_at)}>
                {formatAgo(task.created_at, now)}
              </td>
              <td data-label="Duration">{formatDuration(task.duration_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
