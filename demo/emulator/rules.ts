import { createHash, timingSafeEqual } from "node:crypto";

export type ChallengeMethod = "S256" | "plain";
export type UsageLimitType = "daily" | "weekly" | "monthly";

/** A request OpenRouter refuses; handlers turn it into a 400 page or error body. */
export class Invalid extends Error {}

/** Settings of the key to mint, as `CreateAuthKeysCodeRequest` describes them. */
export interface KeySettings {
  keyLabel: string | null;
  limit: number | null;
  usageLimitType: UsageLimitType | null;
  expiresAt: string | null;
  workspaceId: string | null;
}

/** What an authorization code stands for, whichever endpoint created it. */
export interface Grant {
  /** `null` for a headless request (no `callback_url`): the code is shown on a page instead. */
  callbackUrl: URL | null;
  challenge: string | null;
  /** `null` when no challenge was sent. */
  method: ChallengeMethod | null;
  settings: KeySettings;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
// RFC 7636 section 4.1 / 4.2: verifiers and challenges share this alphabet and length.
const PKCE_STRING = /^[A-Za-z0-9._~-]{43,128}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const USAGE_LIMIT_TYPES: readonly string[] = ["daily", "weekly", "monthly"];

/** https on any port, or http on a loopback name; never a fragment or user:password. */
export function checkCallbackUrl(raw: unknown): URL {
  if (typeof raw !== "string" || raw === "") throw new Invalid("callback_url is required");
  // The URL parser silently drops tabs and newlines; refuse them instead of redirecting elsewhere.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw new Invalid("callback_url must not contain spaces or control characters");
  if (raw.includes("#")) throw new Invalid("callback_url must not have a fragment");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Invalid("callback_url must be an absolute URL");
  }
  if (url.username !== "" || url.password !== "") throw new Invalid("callback_url must not contain a user name or password");
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new Invalid("callback_url must use https, or http on localhost, 127.0.0.1 or [::1]");
}

/** The method the code is bound to: none without a challenge, `plain` when only the method is missing (RFC 7636 section 4.3). */
export function checkChallenge(challenge: unknown, method: unknown): { challenge: string | null; method: ChallengeMethod | null } {
  if (method !== undefined && method !== "S256" && method !== "plain") throw new Invalid("Invalid code_challenge_method");
  if (challenge === undefined) return { challenge: null, method: null };
  if (typeof challenge !== "string" || !PKCE_STRING.test(challenge)) {
    throw new Invalid("code_challenge must be 43 to 128 characters from [A-Za-z0-9-._~]");
  }
  // An S256 challenge is the base64url SHA-256 of the verifier: exactly 43 characters (RFC 7636 4.2).
  if (method === "S256" && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw new Invalid("an S256 code_challenge must be 43 base64url characters");
  return { challenge, method: method ?? "plain" };
}

/** Key settings with typed values; `now` decides whether `expires_at` lies in the future. */
export function checkKeySettings(input: Record<string, unknown>, now: number): KeySettings {
  const { key_label, limit, usage_limit_type, expires_at, workspace_id } = input;
  if (key_label !== undefined && (typeof key_label !== "string" || [...key_label].length > 100)) {
    throw new Invalid("key_label must be a string of at most 100 characters");
  }
  if (limit !== undefined && (typeof limit !== "number" || !Number.isFinite(limit) || limit < 0)) {
    throw new Invalid("limit must be a number >= 0");
  }
  if (usage_limit_type !== undefined && !USAGE_LIMIT_TYPES.includes(usage_limit_type as string)) {
    throw new Invalid("usage_limit_type must be daily, weekly or monthly");
  }
  if (expires_at !== undefined && expires_at !== null) {
    const time = typeof expires_at === "string" && DATE_TIME.test(expires_at) ? Date.parse(expires_at) : NaN;
    if (Number.isNaN(time)) throw new Invalid("expires_at must be an ISO 8601 date-time such as 2027-12-31T23:59:59Z");
    if (time <= now) throw new Invalid("expires_at must be in the future");
  }
  if (workspace_id !== undefined && (typeof workspace_id !== "string" || !UUID.test(workspace_id))) {
    throw new Invalid("workspace_id must be a UUID");
  }
  return {
    keyLabel: (key_label as string | undefined) ?? null,
    limit: (limit as number | undefined) ?? null,
    usageLimitType: (usage_limit_type as UsageLimitType | undefined) ?? null,
    expiresAt: (expires_at as string | null | undefined) ?? null,
    workspaceId: (workspace_id as string | undefined) ?? null,
  };
}

const AUTH_PARAMS = ["callback_url", "code_challenge", "code_challenge_method", "key_label", "limit", "usage_limit_type", "expires_at"];

/**
 * The query of `GET /auth`. Other parameters (such as `state`) are ignored, as OpenRouter does.
 * Without `callback_url` the request is headless (the code is shown on screen), which OpenRouter
 * allows only with a `code_challenge`.
 */
export function checkAuthQuery(query: URLSearchParams, now: number): Grant {
  const params: Record<string, unknown> = {};
  for (const name of AUTH_PARAMS) {
    const values = query.getAll(name);
    if (values.length > 1) throw new Invalid(`${name} must appear at most once`);
    if (values.length === 1) params[name] = values[0];
  }
  if (typeof params.limit === "string") {
    if (!DECIMAL.test(params.limit)) throw new Invalid("limit must be a number >= 0");
    params.limit = Number(params.limit);
  }
  const headless = params.callback_url === undefined;
  const challenge = checkChallenge(params.code_challenge, params.code_challenge_method);
  if (headless && challenge.challenge === null) {
    throw new Invalid("code_challenge is required without callback_url: the code is shown on screen, and only PKCE keeps it useless to onlookers");
  }
  return {
    callbackUrl: headless ? null : checkCallbackUrl(params.callback_url),
    ...challenge,
    settings: checkKeySettings(params, now),
  };
}

const CODE_REQUEST_FIELDS = new Set([...AUTH_PARAMS, "workspace_id", "spawn_agent", "spawn_cloud"]);

/** The JSON body of `POST /api/v1/auth/keys/code`. */
export function checkCodeRequest(body: unknown, now: number): Grant {
  const fields = asObject(body);
  // Unknown fields are refused so that a misspelt setting (keyLabel) fails loudly instead of vanishing.
  for (const name of Object.keys(fields)) {
    if (!CODE_REQUEST_FIELDS.has(name)) throw new Invalid(`Unknown field ${name}`);
  }
  for (const name of ["spawn_agent", "spawn_cloud"]) {
    if (fields[name] !== undefined && typeof fields[name] !== "string") throw new Invalid(`${name} must be a string`);
  }
  return {
    callbackUrl: checkCallbackUrl(fields.callback_url),
    ...checkChallenge(fields.code_challenge, fields.code_challenge_method),
    settings: checkKeySettings(fields, now),
  };
}

export interface ExchangeRequest {
  code: string;
  verifier: string | null;
  method: ChallengeMethod | null;
}

/** The JSON body of `POST /api/v1/auth/keys`; `null` and a missing method mean the same. */
export function checkExchangeRequest(body: unknown): ExchangeRequest {
  const { code, code_verifier, code_challenge_method, ...rest } = asObject(body);
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new Invalid(`Unknown field ${unknown}`);
  if (typeof code !== "string" || code === "") throw new Invalid("code is required");
  if (code_verifier !== undefined && typeof code_verifier !== "string") throw new Invalid("code_verifier must be a string");
  const method = code_challenge_method ?? null;
  if (method !== null && method !== "S256" && method !== "plain") throw new Invalid("Invalid code_challenge_method");
  return { code, verifier: code_verifier ?? null, method };
}

/** RFC 7636 section 4.6: transform the verifier with the grant's method and compare. */
export function verifierMatches(grant: Grant, verifier: string): boolean {
  if (grant.challenge === null || !PKCE_STRING.test(verifier)) return false;
  const derived = grant.method === "S256" ? createHash("sha256").update(verifier, "ascii").digest("base64url") : verifier;
  const a = Buffer.from(derived);
  const b = Buffer.from(grant.challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Invalid("Request body must be a JSON object");
  return body as Record<string, unknown>;
}
