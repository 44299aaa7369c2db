import { fail } from "../errors.js";
import { checkMethod, checkUnreserved, type CodeChallengeMethod } from "../pkce.js";
import type { ParamValue, Provider } from "../provider.js";
import { field, readJson, type JsonObject } from "../request.js";
import { secureUrl, withQuery } from "../url.js";

/** When an OpenRouter key's credit limit resets. */
export type UsageLimitType = "daily" | "weekly" | "monthly";

/** Settings of the key OpenRouter creates for the user. */
export interface OpenRouterKeySettings {
  /** Name of the key, at most 100 characters (code points). @default the app's name on OpenRouter */
  keyLabel?: string;
  /** Credit limit of the key, a finite number >= 0. */
  limit?: number;
  /** When the credit limit resets. */
  usageLimitType?: UsageLimitType;
  /**
   * Expiry of the key: a future Date or ISO 8601 string (year <= 9999); sent as ISO 8601 with
   * seconds, UTC.
   */
  expiresAt?: Date | string;
}

/** Options of {@link openRouter} for the usual redirect: OpenRouter sends the user back. */
export interface OpenRouterOptions extends OpenRouterKeySettings {
  /** Where OpenRouter sends the user back: https on any port, or http on localhost/127.0.0.1/[::1]. */
  callbackUrl: string;
  /** `true` for {@link OpenRouterHeadlessOptions}. @default false */
  headless?: false;
  /**
   * OpenRouter's origin (or the local emulator's), optionally with a path; never a query or a
   * fragment. @default "https://openrouter.ai"
   */
  baseUrl?: string;
  /** PKCE method. @default "S256" */
  codeChallengeMethod?: CodeChallengeMethod;
}

/**
 * Options of {@link openRouter} for apps that cannot receive a callback: OpenRouter shows the code,
 * the user pastes it, and `flow.exchangeCode(code)` finishes. No `callbackUrl`; S256 only.
 */
export interface OpenRouterHeadlessOptions extends OpenRouterKeySettings {
  headless: true;
  /** As in {@link OpenRouterOptions}. @default "https://openrouter.ai" */
  baseUrl?: string;
  /** Only S256: the code is shown on screen, so only the verifier protects it. @default "S256" */
  codeChallengeMethod?: "S256";
}

/** What the key exchange yields: the user's own API key. */
export interface OpenRouterResult {
  /** The new API key (`sk-or-v1-…`). Keep it out of logs and URLs. */
  key: string;
  /** OpenRouter's user id, when it says. */
  userId: string | null;
}

/** Body of OpenRouter's `POST /api/v1/auth/keys/code` (`CreateAuthKeysCodeRequest`), camelCased. */
export interface CreateAuthKeysCodeRequest extends Omit<OpenRouterKeySettings, "expiresAt"> {
  callbackUrl: string;
  /** S256: exactly 43 base64url characters; plain (or no method): 43-128 unreserved characters. */
  codeChallenge?: string;
  codeChallengeMethod?: CodeChallengeMethod;
  /** A future Date or ISO 8601 string (year <= 9999), or `null` for no expiry. */
  expiresAt?: Date | string | null;
  /** Workspace UUID. */
  workspaceId?: string;
}

/** What `POST /api/v1/auth/keys/code` returns. */
export interface CreatedAuthCode {
  /** The authorization code. */
  id: string;
  appId: number;
  createdAt: string;
}

const USAGE: unknown[] = ["daily", "weekly", "monthly"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// ECMAScript's date-time string format (the one every engine parses alike), any fraction length.
const ISO = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$/i;
// Authorization parameters the flow or this preset sets; a per-request parameter cannot.
// A literal, not a computed list: a call at module level would stay in every bundle.
const OWNED = /^(callback_url|code_challenge(_method)?|state|response_(type|mode)|client_id|redirect_uri|scope|nonce|request(_uri)?)$/;
// The key settings, which a per-request parameter may set only with a value openRouter() accepts.
const SETTING = /^(key_label|limit|usage_limit_type|expires_at)$/;

const invalid = (message: string): never => fail("invalid_config", message);

// An ISO 8601 date-time string in whole seconds, UTC, for a Date or ISO 8601 string in the future
// with a four-digit year (below 253402300800000, the year 10000).
function expiry(value: unknown): string {
  // The fraction is dropped before parsing: the key's expiry counts in whole seconds anyway.
  let time = value instanceof Date ? value.getTime() : typeof value == "string" && ISO.test(value) ? Date.parse(value.toUpperCase().replace(/\.\d+/, "")) : NaN;
  // A day the month does not have (2099-02-31) is refused, not rolled over into the next month.
  if (typeof value == "string" && new Date(Date.UTC(+value.slice(0, 4), +value.slice(5, 7), 0)).getUTCDate() < +value.slice(8, 10)) time = NaN;
  time -= time % 1000;
  return time > Date.now() && time < 2534023008e5 ? new Date(time).toISOString().replace(".000Z", "Z") : invalid("expiresAt must be a future ISO 8601 date, year <= 9999");
}

// Validates the key settings and adds them to `wire` as OpenRouter's snake_case fields. `null`
// for `expiresAt` (no expiry) only where `nullable`.
function keySettings(s: OpenRouterKeySettings | CreateAuthKeysCodeRequest, wire: JsonObject, nullable?: boolean): JsonObject {
  const { keyLabel, limit, usageLimitType, expiresAt } = s;
  // Sets a given setting when `valid`, fails with `message` otherwise.
  const put = (name: string, value: unknown, valid: boolean, message: string) => {
    if (value !== undefined) wire[name] = valid ? value : invalid(message);
  };
  // The schema's maxLength counts code points, as [...string] does.
  put("key_label", keyLabel, typeof keyLabel === "string" && [...keyLabel].length <= 100, "keyLabel must be a string of at most 100 characters");
  put("limit", limit, Number.isFinite(limit) && limit! >= 0, "limit must be a finite number >= 0");
  put("usage_limit_type", usageLimitType, USAGE.includes(usageLimitType), "usageLimitType must be daily, weekly or monthly");
  if (expiresAt !== undefined) wire["expires_at"] = expiresAt === null && nullable ? null : expiry(expiresAt);
  return wire;
}

function callback(value: unknown): string {
  const url = secureUrl(value, "callbackUrl");
  if (url.searchParams.has("code") || url.searchParams.has("state")) invalid("callbackUrl must not carry code or state");
  return url.href;
}

/**
 * @internal OpenRouter's base URL without trailing slashes: https (or http on loopback), an
 * origin optionally with a path, never a query or fragment.
 * @throws {PkceError} `invalid_config`.
 */
export function openRouterBase(value: unknown = "https://openrouter.ai"): string {
  const url = secureUrl(value, "baseUrl");
  return String(value).includes("?") ? invalid("baseUrl must not have a query") : url.href.replace(/\/+$/, "");
}

/**
 * @internal An API key a header can carry: trimmed, then printable ASCII without spaces. The
 * message never shows any of it.
 * @throws {PkceError} `invalid_argument`.
 */
export function checkApiKey(value: unknown, name: string): string {
  const key = typeof value === "string" ? value.trim() : "";
  return /^[\x21-\x7e]+$/.test(key) ? key : fail("invalid_argument", `${name} must be printable ASCII without spaces`);
}

// A challenge as the schema and RFC 7636 allow it: S256 is a base64url SHA-256 (43 characters).
function challenge(value: unknown, method: CodeChallengeMethod | undefined): string {
  if (method === "S256" && !/^[\w-]{43}$/.test(value as string)) invalid("an S256 codeChallenge must be 43 base64url characters");
  return checkUnreserved(value, "codeChallenge", "invalid_config");
}

// Per-request parameters: scalar values, never a name the flow or this preset sets; a key setting
// passes the same checks as in openRouter() (and is sent in the same form), else `invalid_argument`.
function perRequest(params: Record<string, ParamValue> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (params != null && (typeof params !== "object" || Array.isArray(params))) fail("invalid_argument", "params must be an object");
  for (const [name, value] of Object.entries(params ?? {})) {
    const wire = name.trim().toLowerCase();
    // `typeof` gives one of eight words; only these three are in the string.
    if (OWNED.test(wire) || !"string number boolean".includes(typeof value)) fail("invalid_argument", `params cannot set "${name}"`);
    try {
      // key_label -> keyLabel, the option keySettings() reads.
      out[name] = String(SETTING.test(wire) ? keySettings({ [wire.replace(/_./g, (m) => m[1]!.toUpperCase())]: value }, {})[wire] : value);
    } catch (error) {
      fail("invalid_argument", `params: ${(error as Error).message}`);
    }
  }
  return out;
}

/**
 * The OpenRouter provider: "Connect OpenRouter" gives the user's own API key to the app.
 * `state` travels inside `callback_url`'s query, since OpenRouter does not echo a `state`.
 * With `headless: true` there is no callback: OpenRouter shows the code, the user pastes it, and
 * `flow.exchangeCode(code)` finishes the flow.
 * @throws {PkceError} `invalid_config` for a bad callback URL, base URL or key setting, a
 *   `callbackUrl` or `plain` with `headless`.
 * @see https://openrouter.ai/docs/guides/overview/auth/oauth
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 * @example
 * const flow = createFlow(openRouter({ callbackUrl: location.origin + "/callback", keyLabel: "My app" }))
 * await flow.start()
 * @example
 * const flow = createFlow(openRouter({ headless: true, keyLabel: "My CLI" }))
 * open((await flow.authorize()).href) // then: await flow.exchangeCode(pastedCode)
 */
export function openRouter(options: OpenRouterOptions | OpenRouterHeadlessOptions): Provider<OpenRouterResult> {
  // Read loosely: plain JavaScript callers can mix the two forms, which is refused below.
  const { headless = false, callbackUrl: given, codeChallengeMethod } = (options ?? {}) as Partial<OpenRouterOptions> & { headless?: boolean };
  if (typeof headless != "boolean" || (headless && (given !== undefined || codeChallengeMethod === "plain"))) invalid("headless (a boolean) takes no callbackUrl and only S256");
  const callbackUrl = headless ? "" : callback(given);
  const baseUrl = openRouterBase(options.baseUrl);
  const method = checkMethod(codeChallengeMethod ?? "S256", "invalid_config");
  const settings = keySettings(options, {});
  return {
    // Bound to the server: a transaction started against one baseUrl is never sent to another.
    id: `openrouter${headless ? "-headless" : ""} ${baseUrl}`,
    redirectUri: callbackUrl,
    codeChallengeMethod: method,
    statelessCallback: !headless,
    headless,
    authorizationUrl: ({ state, codeChallenge, codeChallengeMethod, params }) =>
      withQuery(
        `${baseUrl}/auth`,
        // Appended as text so the app's own callback query stays byte for byte.
        { callback_url: headless ? undefined : `${callbackUrl}${callbackUrl.includes("?") ? "&" : "?"}state=${state}`, code_challenge: codeChallenge, code_challenge_method: codeChallengeMethod },
        settings,
        perRequest(params),
      ),
    tokenRequest: ({ code, codeVerifier, codeChallengeMethod }) =>
      json(`${baseUrl}/api/v1/auth/keys`, { code, code_verifier: codeVerifier, code_challenge_method: codeChallengeMethod }),
    parseResult: (body) => ({
      key: field(body, "key", "string", false)!,
      userId: field(body, "user_id", "string", true) ?? null,
    }),
  };
}

function json(url: string, body: JsonObject, headers: Record<string, string> = {}): Request {
  return new Request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/**
 * Builds OpenRouter's `POST /api/v1/auth/keys/code`, for apps that already hold an API key and
 * want an authorization code for a new, limited key. Sends nothing.
 * @throws {PkceError} `invalid_config` for a bad field; `invalid_argument` for a missing API key
 *   or one a header cannot carry (no part of it in the message).
 * @see https://openrouter.ai/docs/api-reference/o-auth/create-auth-keys-code
 * @example
 * const res = await fetch(buildCreateAuthCodeRequest({ callbackUrl, limit: 5 }, { apiKey }))
 * const { id } = await readCreateAuthCodeResponse(res)
 */
export function buildCreateAuthCodeRequest(params: CreateAuthKeysCodeRequest, init: { apiKey: string; baseUrl?: string }): Request {
  const apiKey = checkApiKey(init?.apiKey, "apiKey");
  const body: JsonObject = { callback_url: callback(params?.callbackUrl) };
  const { codeChallenge, codeChallengeMethod, workspaceId } = params;
  const method = codeChallengeMethod === undefined ? undefined : checkMethod(codeChallengeMethod, "invalid_config");
  // Without a method, OpenRouter (RFC 7636 4.3) takes the challenge as plain.
  if (codeChallenge !== undefined) body["code_challenge"] = challenge(codeChallenge, method);
  if (method) body["code_challenge_method"] = method;
  keySettings(params, body, true);
  if (workspaceId !== undefined) {
    body["workspace_id"] = typeof workspaceId === "string" && UUID.test(workspaceId) ? workspaceId : invalid("workspaceId must be a UUID");
  }
  return json(`${openRouterBase(init.baseUrl)}/api/v1/auth/keys/code`, body, { Authorization: `Bearer ${apiKey}` });
}

/**
 * Reads the answer to {@link buildCreateAuthCodeRequest}'s request. Server text kept in a
 * {@link TokenError} is blanked of anything shaped like an OpenRouter key (`sk-or-…`) and, when
 * `sent` is given, of that request's exact API key in every echoed form.
 * @param sent - The request that was sent (its Bearer key is read) or the API key itself.
 * @throws {TokenError} for a non-2xx answer ("code endpoint: HTTP 401"); {@link PkceError}
 *   `invalid_response` for a malformed one, `invalid_argument` for a `sent` that is neither a
 *   Request nor a printable API key.
 * @example
 * const request = buildCreateAuthCodeRequest({ callbackUrl }, { apiKey })
 * const { id } = await readCreateAuthCodeResponse(await fetch(request), request)
 */
export async function readCreateAuthCodeResponse(response: Response, sent?: Request | string): Promise<CreatedAuthCode> {
  const key = sent instanceof Request ? sent.headers.get("authorization")?.replace(/^bearer /i, "") : sent === undefined ? "" : checkApiKey(sent, "sent");
  // readJson blanks key-shaped text (`sk-or-…`) itself; `key` adds the exact one, whatever its shape.
  const data = (await readJson(response, [key || ""], "code endpoint"))["data"];
  // A parsed JSON value is an object exactly when it is an instance of this realm's Object.
  if (!(data instanceof Object)) fail("invalid_response", 'answer has no "data" object');
  const d = data as JsonObject;
  return { id: field(d, "id", "string", false)!, appId: field(d, "app_id", "number", false)!, createdAt: field(d, "created_at", "string", false)! };
}
