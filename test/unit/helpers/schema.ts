import spec from "../../fixtures/openrouter-oauth.openapi.json";

/** The part of JSON Schema (2020-12, as OpenAPI 3.1 uses it) that OpenRouter's excerpt needs. */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  maxLength?: number;
  format?: string;
}

type Operation = {
  requestBody: { content: { "application/json": { schema: Schema } } };
  responses: Record<string, { content?: { "application/json"?: { schema: Schema } } }>;
};

/** A schema from test/fixtures/openrouter-oauth.openapi.json: a path's request body or a response. */
export function openRouterSchema(path: "/auth/keys" | "/auth/keys/code", part: "request" | "200"): Schema {
  const operation = (spec.paths as unknown as Record<string, { post: Operation }>)[path]!.post;
  const schema = part === "request" ? operation.requestBody.content["application/json"].schema : operation.responses[part]!.content?.["application/json"]?.schema;
  if (!schema) throw new Error(`no schema for ${path} ${part}`);
  return schema;
}

const FORMATS: Record<string, (value: string) => boolean> = {
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  // RFC 3339 date-time.
  "date-time": (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)),
  uri: (v) => {
    try {
      return new URL(v).href !== "";
    } catch {
      return false;
    }
  },
};

function typesOf(value: unknown): string[] {
  if (value === null) return ["null"];
  if (Array.isArray(value)) return ["array"];
  if (typeof value === "number") return Number.isInteger(value) ? ["integer", "number"] : ["number"];
  return [typeof value];
}

/**
 * Validates `value` against `schema`; returns the problems (empty when valid). With `closed`, an
 * object property the schema does not declare is a problem too (the library must send only
 * documented fields).
 */
export function validate(schema: Schema, value: unknown, closed = true, at = "$"): string[] {
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!typesOf(value).some((t) => allowed.includes(t))) problems.push(`${at}: ${JSON.stringify(value)} is not ${allowed.join("|")}`);
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "string") {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: longer than ${schema.maxLength}`);
    const format = schema.format && FORMATS[schema.format];
    if (format && !format(value)) problems.push(`${at}: not a ${schema.format}`);
  }
  if (schema.properties && typeof value === "object" && value !== null && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in object)) problems.push(`${at}.${name}: required`);
    for (const [name, v] of Object.entries(object)) {
      const sub = schema.properties[name];
      if (sub) problems.push(...validate(sub, v, closed, `${at}.${name}`));
      else if (closed) problems.push(`${at}.${name}: not in the schema`);
    }
  }
  return problems;
}
