import { request } from "../api";
import { formatAgo, formatTime } from "../format";
import { Problem } from "../status-badge";
import { useData } from "../use-data";
import type { WorkerList } from "../wire";

// Workers seen in the last minute (from their heartbeats), refreshed every 5 s.

export function WorkersPage(): React.JSX.Element {
  const workers = useData((signal) => request<WorkerList>("/v1/workers", { signal }), [], {
    refreshMs: 5_000,
  });
  const list = workers.data?.workers ?? [];
  return (
    <section aria-labelledby="workers-title">
      <h1 id="workers-title">Workers</h1>
      <Problem message={workers.error} />
      {workers.data && list.length === 0 && (
        <p className="empty">No worker seen in the last minute.</p>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table className="workers responsive">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">PID</th>
                <th scope="col">Queues</th>
                <th scope="col">Running / concurrency</th>
                <th scope="col">Functions</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {list.map((w) => (
                <tr key={w.worker_id} data-worker-id={w.worker_id}>
                  <td data-label="Host">
                    <div>
                      {w.host}
                      {w.stopped_at && <span className="muted"> (stopped)</span>}
                    </div>
                  </td>
                  <td data-label="PID">{w.pid}</td>
                  <td data-label="Queues">{w.queues.join(", ")}</td>
                  <td data-label="Running / concurrency">
                    {w.running} / {w.concurrency}
                  </td>
                  <td data-label="Functions" className="functions">
                    {w.functions.join(", ") || "—"}
                  </td>
                  <td data-label="Last seen" title={formatTime(w.seen_at)}>
                    {formatAgo(w.seen_at)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
