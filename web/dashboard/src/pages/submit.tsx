import { type FormEvent, useEffect, useMemo, useState } from "react";
import { errorText, request } from "../api";
import { asSchema, checkAgainstSchema, parsePayload } from "../payload-check";
import { navigate } from "../router";
import { formFields, SchemaForm } from "../schema-form";
import { Problem } from "../status-badge";
import { useData } from "../use-data";
import type { FunctionList, SubmittedTask } from "../wire";

// Submit a task: pick a known function, write its payload as JSON (checked while typing, and
// against the function's schema when it declares one, which also generates a form), set the
// options, POST /v1/tasks, then go to the new task's page to watch it run.

interface Options {
  queue: string;
  priority: string;
  timeoutSeconds: string;
  maxRetries: string;
  delaySeconds: string;
}

const NO_OPTIONS: Options = {
  queue: "",
  priority: "",
  timeoutSeconds: "",
  maxRetries: "",
  delaySeconds: "",
};

function optionalInt(text: string, scale = 1): number | undefined {
  if (text.trim() === "") return undefined;
  return Math.round(Number(text) * scale);
}

function optionProblems(options: Options): string[] {
  const problems: string[] = [];
  const check = (text: string, label: string, min: number, max: number) => {
    if (text.trim() === "") return;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max)
      problems.push(`${label} must be between ${min} and ${max} (got ${text})`);
  };
  check(options.priority, "Priority", 0, 9);
  check(options.timeoutSeconds, "Timeout", 0.001, 86_400);
  check(options.maxRetries, "Max retries", 0, 100);
  check(options.delaySeconds, "Delay", 0, 30 * 86_400);
  if (options.priority && !Number.isInteger(Number(options.priority)))
    problems.push("Priority must be a whole number");
  if (options.maxRetries && !Number.isInteger(Number(options.maxRetries)))
    problems.push("Max retries must be a whole number");
  if (options.queue && !/^[A-Za-z0-9_.:-]{1,64}$/.test(options.queue))
    problems.push("Queue may only use letters, digits and _ . : - (at most 64)");
  return problems;
}

export function SubmitPage(): React.JSX.Element {
  const functions = useData((signal) => request<FunctionList>("/v1/functions", { signal }), []);
  const list = functions.data?.functions ?? [];
  const [functionKey, setFunctionKey] = useState("");
  const [text, setText] = useState("{}");
  const [options, setOptions] = useState<Options>(NO_OPTIONS);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!functionKey && list[0]) setFunctionKey(list[0].key);
  }, [functionKey, list]);
  const selected = list.find((f) => f.key === functionKey);
  const schema = asSchema(selected?.payload_schema ?? selected?.schema);
  const fields = useMemo(() => formFields(schema), [schema]);

  const parsed = parsePayload(text);
  const problems = parsed.ok
    ? [...(schema ? checkAgainstSchema(parsed.value, schema) : []), ...optionProblems(options)]
    : [parsed.message, ...optionProblems(options)];
  const formPayload =
    parsed.ok &&
    typeof parsed.value === "object" &&
    parsed.value !== null &&
    !Array.isArray(parsed.value)
      ? (parsed.value as Record<string, unknown>)
      : undefined;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!parsed.ok || problems.length > 0 || !functionKey) return;
    setSending(true);
    setError(undefined);
    const body = {
      function_key: functionKey,
      payload: parsed.value,
      queue: options.queue.trim() || undefined,
      priority: optionalInt(options.priority),
      timeout_ms: optionalInt(options.timeoutSeconds, 1_000),
      max_retries: optionalInt(options.maxRetries),
      delay_ms: optionalInt(options.delaySeconds, 1_000),
    };
    request<SubmittedTask>("/v1/tasks", { body })
      .then((task) => navigate(`/tasks/${task.id}`))
      .catch((e: unknown) => {
        setSending(false);
        setError(errorText(e));
      });
  };

  const set = (key: keyof Options) => (e: { target: { value: string } }) =>
    setOptions({ ...options, [key]: e.target.value });

  return (
    <section aria-labelledby="submit-title">
      <h1 id="submit-title">Submit a task</h1>
      <Problem message={functions.error} />
      <form className="submit-form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="function">Function</label>
          <select
            id="function"
            value={functionKey}
            onChange={(e) => setFunctionKey(e.target.value)}
            required
          >
            {list.length === 0 && <option value="">(no known functions)</option>}
            {list.map((f) => (
              <option key={f.key} value={f.key}>
                {f.key}
              </option>
            ))}
          </select>
          {selected?.description && <p className="hint">{selected.description}</p>}
        </div>
        {fields.length > 0 && (
          <SchemaForm
            fields={fields}
            payload={formPayload}
            onChange={(next) => setText(JSON.stringify(next, null, 2))}
          />
        )}
        <div className="field">
          <label htmlFor="payload">Payload (JSON)</label>
          <textarea
            id="payload"
            className="mono"
            rows={10}
            spellCheck={false}
            value={text}
            aria-invalid={problems.length > 0}
            aria-describedby="payload-check"
            onChange={(e) => setText(e.target.value)}
          />
          <div id="payload-check" aria-live="polite">
            {problems.length === 0 ? (
              <p className="ok">Valid{schema ? " against the function's schema" : " JSON"}.</p>
            ) : (
              <ul className="problems">
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
          </div>
        </div>
        <fieldset className="options">
          <legend>Options</legend>
          <div className="field">
            <label htmlFor="queue">Queue</label>
            <input
              id="queue"
              value={options.queue}
              placeholder={selected?.queue ?? "default"}
              onChange={set("queue")}
            />
          </div>
          <div className="field">
            <label htmlFor="priority">Priority (0–9)</label>
            <input
              id="priority"
              type="number"
              min={0}
              max={9}
              step={1}
              value={options.priority}
              placeholder={String(selected?.priority ?? 5)}
              onChange={set("priority")}
            />
          </div>
          <div className="field">
            <label htmlFor="timeout">Timeout (seconds)</label>
            <input
              id="timeout"
              type="number"
              min={0}
              step="any"
              value={options.timeoutSeconds}
              placeholder={
                selected?.timeout_ms ? String(selected.timeout_ms / 1_000) : "function default"
              }
              onChange={set("timeoutSeconds")}
            />
          </div>
          <div className="field">
            <label htmlFor="retries">Max retries</label>
            <input
              id="retries"
              type="number"
              min={0}
              max={100}
              step={1}
              value={options.maxRetries}
              placeholder={
                selected?.max_retries !== undefined
                  ? String(selected.max_retries)
                  : "function default"
              }
              onChange={set("maxRetries")}
            />
          </div>
          <div className="field">
            <label htmlFor="delay">Delay (seconds)</label>
            <input
              id="delay"
              type="number"
              min={0}
              step="any"
              value={options.delaySeconds}
              placeholder="0"
              onChange={set("delaySeconds")}
            />
          </div>
        </fieldset>
        <Problem message={error} />
        <button
          type="submit"
          className="primary"
          disabled={sending || problems.length > 0 || !functionKey}
        >
          {sending ? "Submitting…" : "Submit task"}
        </button>
      </form>
    </section>
  );
}
