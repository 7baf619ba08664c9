import { asSchema, type JsonSchema } from "./payload-check";

// The form generated from a function's payload schema: one field per top-level property whose
// type a form control can hold (string, number, integer, boolean, enum). Nested objects and
// arrays stay in the JSON editor. The JSON text is the single source of truth: the form reads
// its values from the parsed payload and writes each change back as JSON.

type FieldKind = "string" | "number" | "integer" | "boolean" | "enum";

interface Field {
  key: string;
  kind: FieldKind;
  schema: JsonSchema;
  required: boolean;
}

export function formFields(schema: JsonSchema | undefined): Field[] {
  const properties = asSchema(schema?.properties);
  if (!schema || !properties) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const fields: Field[] = [];
  for (const [key, raw] of Object.entries(properties)) {
    const property = asSchema(raw);
    if (!property) continue;
    const type = [property.type].flat().find((t) => t !== "null");
    const kind: FieldKind | undefined = Array.isArray(property.enum)
      ? "enum"
      : type === "string" || type === "number" || type === "integer" || type === "boolean"
        ? type
        : undefined;
    if (kind) fields.push({ key, kind, schema: property, required: required.has(key) });
  }
  return fields;
}

export function SchemaForm(props: {
  fields: Field[];
  /** undefined while the JSON text is not an object: the form waits rather than overwrite it. */
  payload: Record<string, unknown> | undefined;
  onChange: (next: Record<string, unknown>) => void;
}): React.JSX.Element {
  const { fields, onChange } = props;
  const payload = props.payload ?? {};
  const set = (key: string, value: unknown) => {
    const next = { ...payload };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onChange(next);
  };
  return (
    <fieldset className="schema-form" disabled={props.payload === undefined}>
      <legend>
        Payload fields
        {props.payload === undefined && <span className="hint"> (fix the JSON below first)</span>}
      </legend>
      {fields.map((field) => (
        <FieldControl key={field.key} field={field} value={payload[field.key]} set={set} />
      ))}
    </fieldset>
  );
}

function FieldControl(props: {
  field: Field;
  value: unknown;
  set: (key: string, value: unknown) => void;
}): React.JSX.Element {
  const { field, value, set } = props;
  const id = `field-${field.key}`;
  const description = typeof field.schema.description === "string" ? field.schema.description : "";
  const bounds = [
    typeof field.schema.minimum === "number" ? `min ${field.schema.minimum}` : "",
    typeof field.schema.maximum === "number" ? `max ${field.schema.maximum}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  const hint = [description, bounds].filter(Boolean).join(" · ");
  const label = (
    <label htmlFor={id}>
      {field.key}
      {field.required && <span className="muted"> (required)</span>}
      {hint && <span className="hint"> {hint}</span>}
    </label>
  );
  if (field.kind === "boolean") {
    return (
      <div className="field field-inline">
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          onChange={(e) => set(field.key, e.target.checked)}
        />
        {label}
      </div>
    );
  }
  if (field.kind === "enum") {
    const options = (field.schema.enum as unknown[]).map((o) => JSON.stringify(o));
    return (
      <div className="field">
        {label}
        <select
          id={id}
          value={value === undefined ? "" : JSON.stringify(value)}
          onChange={(e) =>
            set(field.key, e.target.value === "" ? undefined : JSON.parse(e.target.value))
          }
        >
          <option value="">(not set)</option>
          {options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </div>
    );
  }
  const numeric = field.kind === "number" || field.kind === "integer";
  return (
    <div className="field">
      {label}
      <input
        id={id}
        type={numeric ? "number" : "text"}
        step={field.kind === "integer" ? 1 : "any"}
        value={value === undefined || value === null ? "" : String(value)}
        onChange={(e) => {
          const text = e.target.value;
          if (text === "") set(field.key, undefined);
          else if (numeric) set(field.key, Number.isNaN(Number(text)) ? text : Number(text));
          else set(field.key, text);
        }}
      />
    </div>
  );
}
