// Live checks of the payload editor: JSON syntax, then the function's declared JSON Schema for
// the keywords a payload schema commonly uses (type, enum, const, required, properties,
// additionalProperties, items, bounds, lengths, pattern). The server validates fully (Ajv) and
// its 422 is shown as well; this only gives the author feedback while typing.

export type JsonSchema = Record<string, unknown>;

export type ParsedPayload = { ok: true; value: unknown } | { ok: false; message: string };

export function parsePayload(text: string): ParsedPayload {
  if (text.trim() === "") return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `Not valid JSON: ${(error as Error).message}` };
  }
}

export function asSchema(value: unknown): JsonSchema | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as JsonSchema)
    : undefined;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(expected: string, actual: string): boolean {
  return expected === actual || (expected === "number" && actual === "integer");
}

/** Problems of `value` against `schema`, each as "path: what to change"; empty when it fits. */
export function checkAgainstSchema(value: unknown, schema: JsonSchema, path = "payload"): string[] {
  const problems: string[] = [];
  const actual = typeOf(value);
  const types = schema.type === undefined ? [] : [schema.type].flat().map(String);
  if (types.length > 0 && !types.some((t) => typeMatches(t, actual))) {
    return [`${path} must be ${types.join(" or ")} (got ${actual})`];
  }
  if (
    Array.isArray(schema.enum) &&
    !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))
  )
    problems.push(`${path} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    problems.push(`${path} must be ${JSON.stringify(schema.const)}`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum)
      problems.push(`${path} must be at least ${schema.minimum} (got ${value})`);
    if (typeof schema.maximum === "number" && value > schema.maximum)
      problems.push(`${path} must be at most ${schema.maximum} (got ${value})`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength)
      problems.push(`${path} must have at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
      problems.push(`${path} must have at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === "string") {
      try {
        if (!new RegExp(schema.pattern, "u").test(value))
          problems.push(`${path} must match ${schema.pattern}`);
      } catch {
        // a pattern this browser cannot compile: the server still checks it
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      problems.push(`${path} needs at least ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      problems.push(`${path} takes at most ${schema.maxItems} items`);
    const items = asSchema(schema.items);
    if (items) {
      for (const [i, item] of value.entries())
        problems.push(...checkAgainstSchema(item, items, `${path}[${i}]`));
    }
  }
  if (actual === "object") {
    const record = value as Record<string, unknown>;
    const properties = asSchema(schema.properties) ?? {};
    if (Array.isArray(schema.required)) {
      for (const key of schema.required)
        if (typeof key === "string" && !(key in record))
          problems.push(`${path}.${key} is required`);
    }
    for (const [key, child] of Object.entries(record)) {
      const childSchema = asSchema(properties[key]);
      if (childSchema) problems.push(...checkAgainstSchema(child, childSchema, `${path}.${key}`));
      else if (schema.additionalProperties === false)
        problems.push(
          `${path}.${key} is not allowed (known: ${Object.keys(properties).join(", ") || "none"})`,
        );
    }
  }
  return problems;
}
