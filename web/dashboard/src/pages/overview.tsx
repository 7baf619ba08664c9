import { request } from "../api";
import { FailureRateChart, lastHour, ThroughputChart } from "../bar-chart";
import { formatAgo, formatPercent } from "../format";
import { useLiveEvents } from "../live-events";
import { Link } from "../router";
import { Problem } from "../status-badge";
import { useData, useThrottled } from "../use-data";
import {
  type QueueList,
  type QueueStats,
  type QueueThroughput,
  throughputSeries,
  type Worker,
  type WorkerList,
} from "../wire";

// Per queue: the broker's counts (ready, in flight, delayed, dead-lettered) and the last hour
// of finished tasks from the tracking store; then the live workers. Refreshed every 5 s and,
// at most once a second, when a task changes.

export function OverviewPage(): React.JSX.Element {
  const queues = useData((signal) => request<QueueList>("/v1/queues", { signal }), [], {
    refreshMs: 5_000,
  });
  const throughput = useData(
    async (signal) =>
      throughputSeries(await request<unknown>("/v1/stats/throughput?window=1h", { signal })),
    [],
    { refreshMs: 10_000 },
  );
  const workers = useData((signal) => request<WorkerList>("/v1/workers", { signal }), [], {
    refreshMs: 5_000,
  });
  const refreshCounts = useThrottled(queues.reload, 1_000);
  useLiveEvents((event) => {
    if (event.kind === "resync" || event.task.status !== "STARTED") refreshCounts();
  });

  const series = new Map<string, QueueThroughput>((throughput.data ?? []).map((s) => [s.queue, s]));
  const names = new Set([...(queues.data?.queues ?? []).map((q) => q.queue), ...series.keys()]);
  const stats = new Map((queues.data?.queues ?? []).map((q) => [q.queue, q]));

  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <Problem message={queues.error} />
      <Problem message={throughput.error && `Throughput: ${throughput.error}`} />
      {queues.data && names.size === 0 && (
        <p className="empty">No queues yet. Submit a task to see one here.</p>
      )}
      <div className="queue-grid">
        {[...names].sort().map((name) => (
          <QueueCard key={name} name={name} stats={stats.get(name)} series={series.get(name)} />
        ))}
      </div>
      <h2>Live workers</h2>
      <Problem message={workers.error} />
      <WorkerSummary workers={workers.data?.workers} />
    </section>
  );
}

function QueueCard(props: {
  name: string;
  stats: QueueStats | undefined;
  series: QueueThroughput | undefined;
}): React.JSX.Element {
  const { name, stats, series } = props;
  const slots = lastHour(series?.buckets ?? []);
  const succeeded = slots.reduce((n, s) => n + s.succeeded, 0);
  const failed = slots.reduce((n, s) => n + s.failed, 0);
  const numbers: Array<[string, number | undefined]> = [
    ["Ready", stats?.ready],
    ["In flight", stats?.in_flight],
    ["Delayed", stats?.delayed],
    ["Dead-lettered", stats?.dead_lettered],
  ];
  return (
    <article className="card queue-card" aria-labelledby={`queue-${name}`}>
      <h2 id={`queue-${name}`} className="queue-name">
        <Link to={`/tasks?queue=${encodeURIComponent(name)}`}>{name}</Link>
      </h2>
      <dl className="stats">
        {numbers.map(([label, value]) => (
          <div
            key={label}
            className={label === "Dead-lettered" && value ? "stat stat-bad" : "stat"}
          >
            <dt>{label}</dt>
            <dd>
              {label === "Dead-lettered" && value ? (
                <Link to={`/dlq?queue=${encodeURIComponent(name)}`}>{value.toLocaleString()}</Link>
              ) : (
                (value?.toLocaleString() ?? "—")
              )}
            </dd>
          </div>
        ))}
      </dl>
      <div className="chart-block">
        <p className="chart-caption">
          Last hour: <strong>{succeeded.toLocaleString()}</strong> succeeded,{" "}
          <strong>{failed.toLocaleString()}</strong> failed
        </p>
        <ThroughputChart
          slots={slots}
          label={`${name}: ${succeeded} succeeded and ${failed} failed in the last hour, per minute`}
        />
        <p className="chart-caption">
          Failure rate: <strong>{formatPercent(failed, succeeded + failed)}</strong>
        </p>
        <FailureRateChart
          slots={slots}
          label={`${name}: failure rate per minute over the last hour`}
        />
      </div>
    </article>
  );
}

function WorkerSummary(props: { workers: Worker[] | undefined }): React.JSX.Element | null {
  const live = (props.workers ?? []).filter((w) => !w.stopped_at);
  if (!props.workers) return null;
  if (live.length === 0) return <p className="empty">No live workers.</p>;
  return (
    <>
      <ul className="worker-list">
        {live.map((w) => (
          <li key={w.worker_id} className="card">
            <strong>
              {w.host}:{w.pid}
            </strong>{" "}
            <span className="muted">{w.queues.join(", ")}</span>
            <span>
              {w.running} / {w.concurrency} running
            </span>
            <span className="muted">seen {formatAgo(w.seen_at)}</span>
          </li>
        ))}
      </ul>
      <p>
        <Link to="/workers">All workers</Link>
      </p>
    </>
  );
}
