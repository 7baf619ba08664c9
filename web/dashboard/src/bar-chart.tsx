import type { ThroughputBucket } from "./wire";

// Small SVG bar charts of the last hour, one bar per minute. The SVG is decoration with a text
// alternative (aria-label); the numbers are also printed beside it for screen readers.

const MINUTES = 60;

export interface MinuteSlot {
  start: number;
  succeeded: number;
  failed: number;
}

/** The server's (possibly sparse) buckets on a fixed 60-minute axis ending at `now`. */
export function lastHour(buckets: readonly ThroughputBucket[], now = Date.now()): MinuteSlot[] {
  const end = Math.floor(now / 60_000) * 60_000;
  const slots: MinuteSlot[] = [];
  for (let i = MINUTES - 1; i >= 0; i--)
    slots.push({ start: end - i * 60_000, succeeded: 0, failed: 0 });
  const first = slots[0]?.start ?? 0;
  for (const bucket of buckets) {
    const start = Math.floor(new Date(bucket.start).getTime() / 60_000) * 60_000;
    const slot = slots[(start - first) / 60_000];
    if (!slot) continue;
    slot.succeeded += bucket.succeeded;
    slot.failed += bucket.failed;
  }
  return slots;
}

const WIDTH = 240;
const HEIGHT = 48;
const BAR = WIDTH / MINUTES;

function minuteLabel(start: number): string {
  return new Date(start).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function ThroughputChart(props: { slots: MinuteSlot[]; label: string }): React.JSX.Element {
  const max = Math.max(1, ...props.slots.map((s) => s.succeeded + s.failed));
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={props.label}
    >
      {props.slots.map((slot, i) => {
        const ok = (slot.succeeded / max) * HEIGHT;
        const bad = (slot.failed / max) * HEIGHT;
        return (
          <g key={slot.start}>
            <title>{`${minuteLabel(slot.start)}: ${slot.succeeded} succeeded, ${slot.failed} failed`}</title>
            <rect className="bar-base" x={i * BAR} y={0} width={BAR} height={HEIGHT} />
            {ok > 0 && (
              <rect
                className="bar-ok"
                x={i * BAR + 0.5}
                y={HEIGHT - ok}
                width={BAR - 1}
                height={ok}
              />
            )}
            {bad > 0 && (
              <rect
                className="bar-fail"
                x={i * BAR + 0.5}
                y={HEIGHT - ok - bad}
                width={BAR - 1}
                height={bad}
              />
            )}
          </g>
        );
      })}
    </svg>
  );
}

export function FailureRateChart(props: { slots: MinuteSlot[]; label: string }): React.JSX.Element {
  return (
    <svg
      className="chart chart-small"
      viewBox={`0 0 ${WIDTH} ${HEIGHT / 2}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={props.label}
    >
      {props.slots.map((slot, i) => {
        const total = slot.succeeded + slot.failed;
        const rate = total === 0 ? 0 : slot.failed / total;
        const h = rate * (HEIGHT / 2);
        return (
          <g key={slot.start}>
            <title>
              {`${minuteLabel(slot.start)}: ${total === 0 ? "no tasks" : `${Math.round(rate * 100)} % failed`}`}
            </title>
            <rect className="bar-base" x={i * BAR} y={0} width={BAR} height={HEIGHT / 2} />
            {h > 0 && (
              <rect
                className="bar-fail"
                x={i * BAR + 0.5}
                y={HEIGHT / 2 - h}
                width={BAR - 1}
                height={h}
              />
            )}
          </g>
        );
      })}
    </svg>
  );
}
