import { useEffect, useState } from "react";
import { errorText, query, request } from "../api";
import { formatTime } from "../format";
import { JsonView } from "../json-view";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import { Problem } from "../status-badge";
import { useData } from "../use-data";
import type { DeadLetterPage, DeadLetterRequeued, QueueList } from "../wire";

// A queue's dead-letter queue, read from the broker: why each task landed there, and requeue
// one, a selection, or all of them (each becomes a fresh run with its history kept). Listing
// and requeueing need the operator role (the API's admin scope); viewers see the counts.

export function DeadLettersPage(): React.JSX.Element {
  const { canOperate } = useSession();
  const location = useLocation();
  const queues = useData((signal) => request<QueueList>("/v1/queues", { signal }), [], {
    refreshMs: 10_000,
  });
  const all = queues.data?.queues ?? [];
  const chosen =
    new URLSearchParams(location.search).get("queue") ??
    (all.find((q) => q.dead_lettered > 0) ?? all[0])?.queue;

  return (
    <section aria-labelledby="dlq-title">
      <h1 id="dlq-title">Dead-letter queue</h1>
      <Problem message={queues.error} />
      {queues.data && all.length === 0 && <p className="empty">No queues yet.</p>}
      {all.length > 0 && (
        <div className="field field-inline-wide">
          <label htmlFor="dlq-queue">Queue</label>
          <select
            id="dlq-queue"
            value={chosen ?? ""}
            onChange={(e) =>
              navigate(`/dlq?queue=${encodeURIComponent(e.target.value)}`, { replace: true })
            }
          >
            {all.map((q) => (
              <option key={q.queue} value={q.queue}>
                {q.queue} ({q.dead_lettered} dead-lettered)
              </option>
            ))}
          </select>
        </div>
      )}
      {chosen &&
        (canOperate ? (
          <Entries key={chosen} queue={chosen} onChange={queues.reload} />
        ) : (
          <p className="note">
            {all.find((q) => q.queue === chosen)?.dead_lettered ?? 0} dead-lettered task(s) in{" "}
            {chosen}. Listing and requeueing them needs the operator role.
          </p>
        ))}
    </section>
  );
}

function Entries(props: { queue: string; onChange: () => void }): React.JSX.Element {
  const { queue, onChange } = props;
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = useData(
    (signal) =>
      request<DeadLetterPage>(
        `/v1/queues/${encodeURIComponent(queue)}/dlq${query({ limit: "100", cursor })}`,
        { signal },
      ),
    [queue, cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirmAll, setConfirmAll] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Partial<DeadLetterRequeued> & { error?: string }>({});
  const entries = page.data?.entries ?? [];
  useEffect(() => {
    if (page.data) setSelected(new Set());
  }, [page.data]);

  const requeue = (selector: { ids: string[] } | { all: true }) => {
    setBusy(true);
    setConfirmAll(false);
    request<DeadLetterRequeued>(`/v1/queues/${encodeURIComponent(queue)}/dlq/requeue`, {
      body: selector,
    })
      .then((answer) => setOutcome({ requeued: answer.requeued }))
      .catch((error: unknown) => setOutcome({ error: errorText(error) }))
      .finally(() => {
        setBusy(false);
        setCursors([]);
        page.reload();
        onChange();
      });
  };
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const allOnPage = entries.length > 0 && entries.every((e) => selected.has(e.id));

  return (
    <>
      <div className="actions">
        <button
          type="button"
          disabled={busy || selected.size === 0}
          onClick={() => requeue({ ids: [...selected] })}
        >
          Requeue selected ({selected.size})
        </button>
        {confirmAll ? (
          <>
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => requeue({ all: true })}
            >
              Confirm: requeue every dead letter in {queue}
            </button>
            <button type="button" onClick={() => setConfirmAll(false)}>
              Keep them
            </button>
          </>
        ) : (
          <button
            type="button"
            disabled={busy || entries.length === 0}
            onClick={() => setConfirmAll(true)}
          >
            Requeue all…
          </button>
        )}
      </div>
      <Problem message={outcome.error} />
      {outcome.requeued && (
        <p className="note" role="status">
          Requeued {outcome.requeued.length} task{outcome.requeued.length === 1 ? "" : "s"}
          {outcome.requeued.length > 0 && outcome.requeued.length <= 5 && ": "}
          {outcome.requeued.length <= 5 &&
            outcome.requeued.map((t, i) => (
              <span key={t.id}>
                {i > 0 && ", "}
                <Link to={`/tasks/${t.id}`} className="mono">
                  {t.id}
                </Link>
              </span>
            ))}
        </p>
      )}
      <Problem message={page.error} />
      {page.data && entries.length === 0 && (
        <p className="empty">This dead-letter queue is empty.</p>
      )}
      {entries.length > 0 && (
        <div className="table-wrap">
          <table className="dlq responsive">
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every entry on this page"
                    checked={allOnPage}
                    onChange={() =>
                      setSelected(allOnPage ? new Set() : new Set(entries.map((e) => e.id)))
                    }
                  />
                </th>
                <th scope="col">Task</th>
                <th scope="col">Reason</th>
                <th scope="col">Function</th>
                <th scope="col">Dead-lettered</th>
                <th scope="col">Payload</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id} data-task-id={entry.id}>
                  <td data-label="Select">
                    <input
                      type="checkbox"
                      aria-label={`Select ${entry.id}`}
                      checked={selected.has(entry.id)}
                      onChange={() => toggle(entry.id)}
                    />
                  </td>
                  <td data-label="Task">
                    <Link to={`/tasks/${entry.id}`} className="mono">
                      {entry.id}
                    </Link>
                  </td>
                  <td data-label="Reason">
                    <div>
                      <strong>{entry.reason}</strong>
                      <span className="row-error">{entry.detail}</span>
                    </div>
                  </td>
                  <td data-label="Function">
                    <div>
                      {entry.function_key ?? "—"}
                      {entry.attempt !== undefined && (
                        <span className="muted"> · attempt {entry.attempt}</span>
                      )}
                    </div>
                  </td>
                  <td data-label="Dead-lettered">{formatTime(entry.dead_lettered_at)}</td>
                  <td data-label="Payload" className="payload-cell">
                    {entry.body !== undefined ? (
                      <pre className="json">{entry.body}</pre>
                    ) : (
                      <JsonView value={entry.payload} label="Payload" />
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() => requeue({ ids: [entry.id] })}
                    >
                      Requeue
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav className="pager" aria-label="Pages of dead letters">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          ← Previous
        </button>
        <button
          type="button"
          disabled={!page.data?.next_cursor}
          onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}
        >
          Next →
        </button>
      </nav>
    </>
  );
}
