import { TokenError, fail } from "../errors.js";
import { webCrypto } from "../random.js";
import { sendRequest, type JsonObject, type SendOptions } from "../request.js";
import { checkApiKey, openRouterBase } from "./openrouter.js";

/** Options of {@link getOpenRouterKey}. */
export interface GetOpenRouterKeyOptions extends SendOptions {
  /** OpenRouter's origin (or the local emulator's), optionally with a path. @default "https://openrouter.ai" */
  baseUrl?: string | undefined;
}

/** What OpenRouter says about a key (`GET /api/v1/key`, the `data` object camelCased). Amounts in USD. */
export interface OpenRouterKeyInfo {
  /** The key's label (the app's name unless `keyLabel` was set). */
  label: string;
  /** Spending limit, or `null` for none. */
  limit: number | null;
  /** What is left of the limit, or `null` without one. */
  limitRemaining: number | null;
  /** When the limit resets (`daily`, `weekly`, `monthly`), or `null` for never. */
  limitReset: string | null;
  /** Total OpenRouter credit usage. */
  usage: number;
  /** Usage in the current UTC day. */
  usageDaily: number;
  /** Usage in the current UTC week (Monday to Sunday). */
  usageWeekly: number;
  /** Usage in the current UTC month. */
  usageMonthly: number;
  /** Total external BYOK (bring your own key) usage. */
  byokUsage: number;
  byokUsageDaily: number;
  byokUsageWeekly: number;
  byokUsageMonthly: number;
  /** Whether BYOK usage counts against the limit. */
  includeByokInLimit: boolean;
  isFreeTier: boolean;
  isManagementKey: boolean;
  /** @deprecated OpenRouter's older name for `isManagementKey`. */
  isProvisioningKey: boolean;
  /** Who created the key (for an organization, the member), or `null`. */
  creatorUserId: string | null;
  /** Expiry as OpenRouter sends it (ISO 8601, UTC), or `null` for none. */
  expiresAt: string | null;
  /** @deprecated Legacy rate limit information; OpenRouter always sends `requests: -1`. */
  rateLimit: { requests: number; interval: string; note: string };
}

/** Links to the key's own pages on OpenRouter; they work only for the signed-in owner of the key. */
export interface OpenRouterKeyLinks {
  /** The key's settings page: `{baseUrl}/keys/{sha256}`. */
  settingsUrl: URL;
  /** The key's activity: `{baseUrl}/logs?api_key_hash={sha256}`. */
  logsUrl: URL;
}

// Field name, then its type letters: s string, n number, i integer, b boolean, d date-time
// string, o object (read by RATE_LIMIT below); 0 may be null, ? may be absent (read as null).
// Every field the official schema names.
const FIELDS =
  "label s,limit n0,limit_remaining n0,limit_reset s0,usage n,usage_daily n,usage_weekly n,usage_monthly n,byok_usage n,byok_usage_daily n,byok_usage_weekly n,byok_usage_monthly n,include_byok_in_limit b,is_free_tier b,is_management_key b,is_provisioning_key b,creator_user_id s0,expires_at d0?,rate_limit o";
const RATE_LIMIT = "requests i,interval s,note s";
// RFC 3339 date-time, as the schema's `format: date-time` means.
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

const camel = (name: string) => name.replace(/_(.)/g, (_, c: string) => c.toUpperCase());

// Reads `body` by a field list, each value checked against its schema type; unnamed fields are
// left out.
function read(body: unknown, fields: string, at: string): JsonObject {
  if (!(body instanceof Object) || Array.isArray(body)) fail("invalid_response", `answer has no "${at}" object`);
  const out: JsonObject = {};
  for (const spec of fields.split(",")) {
    const [name, type] = spec.split(" ") as [string, string];
    const value = (body as JsonObject)[name];
    const ok =
      (value === null && type.includes("0")) ||
      (value === undefined && type.includes("?")) ||
      (type[0] === "d" ? typeof value === "string" && DATE_TIME.test(value) && !isNaN(Date.parse(value)) : typeof value === { s: "string", n: "number", i: "number", b: "boolean", o: "object" }[type[0]!]) &&
        (type[0] !== "i" || Number.isInteger(value));
    out[camel(name)] = ok ? (value ?? null) : fail("invalid_response", `answer has no valid "${at}.${name}"`);
  }
  return out;
}

/**
 * What OpenRouter says about a key: label, limit and what remains of it, when the limit resets,
 * usage, expiry and the rest of `GET /api/v1/key`, each field checked against the official schema.
 * Sent like the token request (no cookies, no redirects, timeout, abortable); the key never
 * appears in any message, cause or kept server text.
 * @throws {TokenError} for a non-2xx answer; `status` 401 means the key is invalid or revoked
 *   (the app's cue to disconnect).
 * @throws {PkceError} `invalid_argument` for a key that is not printable ASCII, a bad `timeoutMs`
 *   (not a number > 0 and <= 2^31 - 1) or a `signal` that is not an `AbortSignal` (nothing is
 *   sent); `invalid_config` for a bad `baseUrl`; `invalid_response` for an answer that
 *   breaks the schema; `network_error`, `timeout`, `aborted`.
 * @see https://openrouter.ai/docs/api-reference/api-keys/get-current-key
 * @example
 * try {
 *   const { label, limitRemaining, usage } = await getOpenRouterKey(key)
 * } catch (e) {
 *   if (isPkceError(e, "token_error") && e.status === 401) disconnect()
 * }
 */
export async function getOpenRouterKey(key: string, options?: GetOpenRouterKeyOptions | null): Promise<OpenRouterKeyInfo> {
  const bearer = checkApiKey(key, "key");
  const { baseUrl, ...send } = options ?? {};
  const request = new Request(`${openRouterBase(baseUrl)}/api/v1/key`, { headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" } });
  let body: JsonObject;
  try {
    // sendRequest checks timeoutMs and signal before it sends anything.
    body = await sendRequest(request, send, [bearer]);
  } catch (error) {
    // The same error, its message naming this endpoint ("key endpoint: HTTP 401").
    throw error instanceof TokenError ? new TokenError(error.status, error.error, error.errorDescription, "key endpoint") : error;
  }
  const data = read(body["data"], FIELDS, "data");
  data["rateLimit"] = read(data["rateLimit"], RATE_LIMIT, "data.rate_limit");
  return data as unknown as OpenRouterKeyInfo;
}

/**
 * Links to the key's settings and activity pages on OpenRouter, from the lowercase hex SHA-256 of
 * the key (so the key itself is never in a URL). They open only for the key's signed-in owner.
 * @throws {PkceError} `invalid_argument` for a key that is not printable ASCII; `invalid_config`
 *   for a bad `baseUrl`; `crypto_unavailable` without Web Crypto (insecure context).
 * @see https://openrouter.ai/docs/guides/overview/auth/oauth
 * @example
 * const { settingsUrl, logsUrl } = await openRouterKeyLinks(key)
 * manageLink.href = settingsUrl.href
 */
export async function openRouterKeyLinks(key: string, options?: { baseUrl?: string | undefined } | null): Promise<OpenRouterKeyLinks> {
  const text = checkApiKey(key, "key");
  const base = openRouterBase(options?.baseUrl);
  const subtle = webCrypto().subtle as SubtleCrypto | undefined;
  if (!subtle) fail("crypto_unavailable", "crypto.subtle unavailable: use https or localhost");
  const digest = new Uint8Array(await subtle!.digest("SHA-256", new TextEncoder().encode(text)));
  const hash = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return { settingsUrl: new URL(`${base}/keys/${hash}`), logsUrl: new URL(`${base}/logs?api_key_hash=${hash}`) };
}
