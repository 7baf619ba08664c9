// A few Prometheus counters for GET /metrics, kept in process (each API replica is scraped on
// its own): requests by method, route pattern and status, tasks accepted, and duplicate
// submissions (answered with an existing task's id, nothing enqueued). Route patterns
// (/v1/tasks/:id), not raw URLs, so the label set stays bounded whatever clients send.

export class RestMetrics {
  readonly #requests = new Map<string, number>();
  #submitted = 0;
  #duplicates = 0;

  countRequest(method: string, route: string, status: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  countSubmitted(tasks: number): void {
    this.#submitted += tasks;
  }

  countDuplicates(tasks: number): void {
    this.#duplicates += tasks;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const lines = [
      "# HELP gotaskq_tasks_submitted_total Tasks accepted (broker-confirmed) through this REST server.",
      "# TYPE gotaskq_tasks_submitted_total counter",
      `gotaskq_tasks_submitted_total ${this.#submitted}`,
      "# HELP gotaskq_tasks_duplicate_total Submissions answered with an existing task (same idempotency key, or unique key held); nothing enqueued.",
      "# TYPE gotaskq_tasks_duplicate_total counter",
      `gotaskq_tasks_duplicate_total ${this.#duplicates}`,
      "# HELP gotaskq_http_requests_total HTTP requests answered, by method, route and status.",
      "# TYPE gotaskq_http_requests_total counter",
    ];
    for (const [key, count] of this.#requests) {
      const [method, route, status] = key.split("\u0000");
      lines.push(
        `gotaskq_http_requests_total{method="${method}",route="${escapeLabel(route ?? "")}",status="${status}"} ${count}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
