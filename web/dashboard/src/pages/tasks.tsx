import { useEffect, useMemo, useRef, useState } from "react";
import { query, request } from "../api";
import { formatAgo, formatDuration, formatTime } from "../format";
import { useLiveEvents } from "../live-events";
import { Link, navigate, useLocation } from "../router";
import { Problem, StatusBadge } from "../status-badge";
import {
  filterFromParams,
  filterToSearch,
  listParams,
  matchesFilter,
  RANGES,
  type RangeKey,
  type TaskFilter,
  timeWindow,
} from "../task-filter";
import { useData, useNow } from "../use-data";
import {
  type FunctionInfo,
  isNewer,
  type QueueStats,
  TASK_STATUSES,
  type TaskPage,
  type TaskRecord,
} from "../wire";

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
      <Filters filter={filter} onChange={setFilter} />
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
                {task.attempt + 1}
                {task.max_retries !== null ? ` / ${task.max_retries + 1}` : ""}
                {task.run > 0 ? ` (run ${task.run + 1})` : ""}
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

function Filters(props: {
  filter: TaskFilter;
  onChange: (next: TaskFilter) => void;
}): React.JSX.Element {
  const { filter, onChange } = props;
  const [draft, setDraft] = useState(filter);
  useEffect(() => setDraft(filter), [filter]);
  const latestOnChange = useRef(onChange);
  latestOnChange.current = onChange;
  // Typed fields apply 400 ms after the last keystroke (or at once with Enter).
  useEffect(() => {
    if (draft === filter) return;
    const timer = setTimeout(() => latestOnChange.current(draft), 400);
    return () => clearTimeout(timer);
  }, [draft, filter]);
  const functions = useData(
    (signal) => request<{ functions: FunctionInfo[] }>("/v1/functions", { signal }),
    [],
  );
  const queues = useData(
    (signal) => request<{ queues: QueueStats[] }>("/v1/queues", { signal }),
    [],
  );
  // On a phone the filters beyond the search box fold away behind a button (CSS shows it there).
  const [expanded, setExpanded] = useState(false);
  const active =
    (filter.statuses.length > 0 ? 1 : 0) +
    (filter.functionKey ? 1 : 0) +
    (filter.queue ? 1 : 0) +
    (filter.range ? 1 : 0);
  const toggle = (status: (typeof TASK_STATUSES)[number]) => {
    const statuses = draft.statuses.includes(status)
      ? draft.statuses.filter((s) => s !== status)
      : [...draft.statuses, status];
    onChange({ ...draft, statuses });
  };
  return (
    <form
      className={expanded ? "filters card expanded" : "filters card"}
      aria-label="Filter tasks"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(draft);
      }}
    >
      <div className="field field-search">
        <label htmlFor="filter-q">Search id, function or error</label>
        <input
          id="filter-q"
          type="search"
          value={draft.q}
          maxLength={200}
          placeholder="e.g. 0193a1b2 or timeout"
          onChange={(e) => setDraft({ ...draft, q: e.target.value })}
        />
      </div>
      <fieldset className="statuses">
        <legend>Status</legend>
        {TASK_STATUSES.map((status) => (
          <label key={status} className="check">
            <input
              type="checkbox"
              name="status"
              value={status}
              checked={draft.statuses.includes(status)}
              onChange={() => toggle(status)}
            />
            {status}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="filter-function">Function</label>
        <input
          id="filter-function"
          list="known-functions"
          value={draft.functionKey}
          onChange={(e) => setDraft({ ...draft, functionKey: e.target.value })}
        />
        <datalist id="known-functions">
          {(functions.data?.functions ?? []).map((f) => (
            <option key={f.key} value={f.key} />
          ))}
        </datalist>
      </div>
      <div className="field">
        <label htmlFor="filter-queue">Queue</label>
        <input
          id="filter-queue"
          list="known-queues"
          value={draft.queue}
          onChange={(e) => setDraft({ ...draft, queue: e.target.value })}
        />
        <datalist id="known-queues">
          {(queues.data?.queues ?? []).map((q) => (
            <option key={q.queue} value={q.queue} />
          ))}
        </datalist>
      </div>
      <div className="field">
        <label htmlFor="filter-range">Created</label>
        <select
          id="filter-range"
          value={draft.range}
          onChange={(e) => onChange({ ...draft, range: e.target.value as RangeKey })}
        >
          {Object.entries(RANGES).map(([key, range]) => (
            <option key={key} value={key}>
              {range.label}
            </option>
          ))}
        </select>
      </div>
      {draft.range === "custom" && (
        <>
          <div className="field">
            <label htmlFor="filter-from">From</label>
            <input
              id="filter-from"
              type="datetime-local"
              value={draft.from}
              onChange={(e) => setDraft({ ...draft, from: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="filter-to">Until</label>
            <input
              id="filter-to"
              type="datetime-local"
              value={draft.to}
              onChange={(e) => setDraft({ ...draft, to: e.target.value })}
            />
          </div>
        </>
      )}
      <button
        type="button"
        className="filter-toggle"
        aria-expanded={expanded}
        onClick={() => setExpanded(!expanded)}
      >
        {expanded ? "Fewer filters" : `More filters${active > 0 ? ` (${active} set)` : ""}`}
      </button>
      <div className="filter-actions">
        <button type="submit">Apply</button>
        <button
          type="button"
          onClick={() =>
            onChange({
              statuses: [],
              functionKey: "",
              queue: "",
              q: "",
              range: "",
              from: "",
              to: "",
            })
          }
        >
          Clear
        </button>
      </div>
    </form>
  );
}
