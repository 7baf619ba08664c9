import { useEffect, useRef, useState } from "react";
import { request } from "../api";
import { RANGES, type RangeKey, type TaskFilter } from "../task-filter";
import { useData } from "../use-data";
import { type FunctionList, type QueueList, TASK_STATUSES } from "../wire";

// The task list's filter form. Selects and checkboxes apply at once; typed fields apply 400 ms
// after the last keystroke or on Enter. On a phone everything but the search box folds away.

export function TaskFiltersForm(props: {
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
  const functions = useData((signal) => request<FunctionList>("/v1/functions", { signal }), []);
  const queues = useData((signal) => request<QueueList>("/v1/queues", { signal }), []);
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
