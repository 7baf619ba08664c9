import { readFileSync } from "node:fs";

// Reads a V8 CPU profile (as written by `BENCH_CPU_PROF_DIR=dir npm run bench`, one per child) and
// prints the functions with the most self time and the most inclusive time, so a hot path can be
// named without opening DevTools:
//   node dist-bench/bench/profile-summary.js /tmp/prof/gotaskq-tracking-drain-worker.cpuprofile 30

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function decodeProfile(text: string): CpuProfile {
  const value: unknown = JSON.parse(text);
  const p = value as Partial<CpuProfile>;
  if (!Array.isArray(p.nodes) || !Array.isArray(p.samples) || !Array.isArray(p.timeDeltas)) {
    throw new Error("not a V8 .cpuprofile (expected nodes, samples and timeDeltas)");
  }
  return value as CpuProfile;
}

function label(frame: CallFrame): string {
  const where = frame.url.replace(/^.*\/(node_modules\/|dist-bench\/)/, "$1");
  return `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
}

/** Self and inclusive microseconds per function label. */
export function summarize(profile: CpuProfile): {
  totalUs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perNode = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    perNode.set(id, (perNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of perNode) {
    totalUs += us;
    const node = byId.get(id);
    if (!node) continue;
    const own = label(node.callFrame);
    self.set(own, (self.get(own) ?? 0) + us);
    // Count each function once per stack, however often it recurses.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (!frame) break;
      const name = label(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  return { totalUs, self, inclusive };
}

function top(map: Map<string, number>, totalUs: number, count: number): string {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => {
      const ms = (us / 1_000).toFixed(0).padStart(7);
      const pct = ((100 * us) / totalUs).toFixed(1).padStart(5);
      return `${ms} ms ${pct}%  ${name}`;
    })
    .join("\n");
}

function main(): void {
  const [file, count = "30"] = process.argv.slice(2);
  if (!file) {
    process.stderr.write(
      "usage: node dist-bench/bench/profile-summary.js <file.cpuprofile> [top]\n",
    );
    process.exit(2);
  }
  const { totalUs, self, inclusive } = summarize(decodeProfile(readFileSync(file, "utf8")));
  const n = Number(count);
  process.stdout.write(
    `${file}: ${(totalUs / 1_000).toFixed(0)} ms sampled\n\n== self time ==\n${top(self, totalUs, n)}\n\n== inclusive time ==\n${top(inclusive, totalUs, n)}\n`,
  );
}

main();
