import { useMemo, useState } from "react";
import { formatBytes } from "./format";

// Shows attacker-controlled JSON (payloads, results) as text only: React text nodes, never HTML.
// Small values print as indented JSON. A value over LARGE_CHARS of JSON or nested deeper than
// DEEP_LEVELS starts collapsed behind an explicit "Show", then opens as a tree that renders only
// what is expanded: CHILDREN_PAGE children at a time and the first STRING_PREVIEW characters of
// a long string. So a 1 MiB or 64-deep payload costs one measurement pass, not a frozen page.

const LARGE_CHARS = 50_000;
const DEEP_LEVELS = 6;
const CHILDREN_PAGE = 100;
const STRING_PREVIEW = 2_000;

interface Measure {
  chars: number;
  depth: number;
  /** Indented JSON, only for values small and shallow enough to print whole. */
  text?: string;
}

function depthOf(value: unknown): number {
  // An explicit stack: a recursive walk of a hostile value is the freeze we avoid.
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    if (depth > max) max = depth;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return max;
}

function measure(value: unknown): Measure {
  let compact: string;
  try {
    compact = JSON.stringify(value) ?? "";
  } catch {
    compact = String(value);
  }
  const depth = depthOf(value);
  if (compact.length > LARGE_CHARS || depth > DEEP_LEVELS) return { chars: compact.length, depth };
  return { chars: compact.length, depth, text: JSON.stringify(value, null, 2) };
}

export function JsonView(props: { value: unknown; label: string }): React.JSX.Element {
  const { value, label } = props;
  const size = useMemo(() => measure(value), [value]);
  const [shown, setShown] = useState(false);
  if (value === undefined) return <p className="muted">none</p>;
  if (size.text !== undefined) return <pre className="json">{size.text}</pre>;
  if (!shown) {
    const why = [
      size.chars > LARGE_CHARS ? formatBytes(size.chars) : undefined,
      size.depth > DEEP_LEVELS ? `nested ${size.depth} levels` : undefined,
    ]
      .filter(Boolean)
      .join(", ");
    return (
      <div className="json-collapsed">
        <span>
          {label} collapsed ({why}).
        </span>
        <button type="button" onClick={() => setShown(true)}>
          Show {label.toLowerCase()}
        </button>
      </div>
    );
  }
  return (
    <ul className="json-tree" aria-label={label}>
      <TreeNode name={label.toLowerCase()} value={value} depth={0} />
    </ul>
  );
}

function TreeNode(props: { name: string; value: unknown; depth: number }): React.JSX.Element {
  const { name, value, depth } = props;
  const [open, setOpen] = useState(depth < 1);
  const [limit, setLimit] = useState(CHILDREN_PAGE);
  if (value === null || typeof value !== "object") {
    return (
      <li>
        <span className="json-key">{name}: </span>
        <Scalar value={value} />
      </li>
    );
  }
  const isArray = Array.isArray(value);
  const count = isArray ? value.length : Object.keys(value).length;
  const entries = open
    ? isArray
      ? value.slice(0, limit).map((child, index): [string, unknown] => [String(index), child])
      : Object.entries(value).slice(0, limit)
    : [];
  return (
    <li>
      <button
        type="button"
        className="json-toggle"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">{open ? "▾ " : "▸ "}</span>
        <span className="json-key">{name}</span>{" "}
        <span className="muted">
          {isArray
            ? `[${count} item${count === 1 ? "" : "s"}]`
            : `{${count} key${count === 1 ? "" : "s"}}`}
        </span>
      </button>
      {open && (
        <ul className="json-children">
          {entries.map(([key, child]) => (
            <TreeNode key={key} name={key} value={child} depth={depth + 1} />
          ))}
          {count > limit && (
            <li>
              <button type="button" onClick={() => setLimit(limit + CHILDREN_PAGE)}>
                Show {Math.min(CHILDREN_PAGE, count - limit)} more (of {count - limit} hidden)
              </button>
            </li>
          )}
        </ul>
      )}
    </li>
  );
}

function Scalar(props: { value: unknown }): React.JSX.Element {
  const { value } = props;
  const [full, setFull] = useState(false);
  if (typeof value !== "string")
    return <span className="json-scalar">{JSON.stringify(value)}</span>;
  if (value.length <= STRING_PREVIEW || full)
    return <span className="json-string">{JSON.stringify(value)}</span>;
  return (
    <span className="json-string">
      {JSON.stringify(value.slice(0, STRING_PREVIEW))}…{" "}
      <button type="button" onClick={() => setFull(true)}>
        Show all {value.length.toLocaleString()} characters
      </button>
    </span>
  );
}
