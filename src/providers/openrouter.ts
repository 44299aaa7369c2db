import { fail } from "../errors.js";
import { checkMethod, checkUnreserved, type CodeChallengeMethod } from "../pkce.js";
import type { Provider } from "../provider.js";
import { field, readJson, type JsonObject } from "../request.js";
import { secureUrl, withQuery } from "../url.js";

/** When an OpenRouter key's credit limit resets. */
export type UsageLimitType = "daily" | "weekly" | "monthly";

/** Settings of the key OpenRouter creates for the user. */
export interface OpenRouterKeySettings {
  /** Name of the key, at most 100 characters. @default the app's name on OpenRouter */
  keyLabel?: string;
  /** Credit limit of the key, a finite number >= 0. */
  limit?: number;
  /** When the credit limit resets. */
  usageLimitType?: UsageLimitType;
  /** Expiry of the key: a future Date or ISO 8601 string; sent as ISO 8601 with seconds, UTC. */
  expiresAt?: Date | string;
}

/** Options of {@link openRouter}. */
export interface OpenRouterOptions extends OpenRouterKeySettings {
  /** Where OpenRouter sends the user back: https on any port, or http on localhost/127.0.0.1/[::1]. */
  callbackUrl: string;
  /** OpenRouter's origin (or the local emulator's). @default "https://openrouter.ai" */
  baseUrl?: string;
  /** PKCE method. @default "S256" */
  codeChallengeMethod?: CodeChallengeMethod;
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
  codeChallenge?: string;
  codeChallengeMethod?: CodeChallengeMethod;
  /** A future Date or ISO 8601 string, or `null` for no expiry. */
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

const DEFAULT_BASE = "https://openrouter.ai";
const USAGE: unknown[] = ["daily", "weekly", "monthly"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalid = (message: string): never => fail("invalid_config", message);

// Validates the key settings and adds them to `wire` as OpenRouter's snake_case fields.
function keySettings(s: Omit<OpenRouterKeySettings, "expiresAt"> & { expiresAt?: Date | string | null | undefined }, wire: JsonObject = {}): JsonObject {
  const { keyLabel, limit, usageLimitType, expiresAt } = s;
  // Sets a given setting when `valid`, fails with `message` otherwise.
  const put = (name: string, value: unknown, valid: boolean, message: string) => {
    if (value !== undefined) wire[name] = valid ? value : invalid(message);
  };
  put("key_label", keyLabel, typeof keyLabel === "string" && keyLabel.length <= 100, "keyLabel must be a string of at most 100 characters");
  put("limit", limit, Number.isFinite(limit) && limit! >= 0, "limit must be a finite number >= 0");
  put("usage_limit_type", usageLimitType, USAGE.includes(usageLimitType), "usageLimitType must be daily, weekly or monthly");
  if (expiresAt !== undefined) {
    const time = expiresAt instanceof Date || typeof expiresAt === "string" ? new Date(expiresAt).getTime() : NaN;
    // Sent as ISO 8601 in whole seconds, UTC; null means no expiry.
    wire["expires_at"] =
      expiresAt === null ? null : time > Date.now() ? new Date(time - (time % 1000)).toISOString().replace(".000Z", "Z") : invalid("expiresAt must be a future date");
  }
  return wire;
}

function callback(value: unknown): string {
  const url = secureUrl(value, "callbackUrl");
  if (url.searchParams.has("code") || url.searchParams.has("state")) invalid("callbackUrl must not carry code or state");
  return url.href;
}

const base = (value: string | undefined): string => secureUrl(value ?? DEFAULT_BASE, "baseUrl").href.replace(/\/+$/, "");

/**
 * The OpenRouter provider: "Connect OpenRouter" gives the user's own API key to the app.
 * `state` travels inside `callback_url`'s query, since OpenRouter does not echo a `state`.
 * @throws {PkceError} `invalid_config` for a bad callback URL, base URL or key setting.
 * @see https://openrouter.ai/docs/guides/overview/auth/oauth
 * @example
 * const flow = createFlow(openRouter({ callbackUrl: location.origin + "/callback", keyLabel: "My app" }))
 * await flow.start()
 */
export function openRouter(options: OpenRouterOptions): Provider<OpenRouterResult> {
  const callbackUrl = callback(options?.callbackUrl);
  const baseUrl = base(options.baseUrl);
  const method = checkMethod(options.codeChallengeMethod ?? "S256", "invalid_config");
  const settings = keySettings(options);
  return {
    id: "openrouter",
    redirectUri: callbackUrl,
    codeChallengeMethod: method,
    statelessCallback: true,
    authorizationUrl: ({ state, codeChallenge, codeChallengeMethod }) =>
      withQuery(
        `${baseUrl}/auth`,
        // Appended as text so the app's own callback query stays byte for byte.
        { callback_url: `${callbackUrl}${callbackUrl.includes("?") ? "&" : "?"}state=${state}`, code_challenge: codeChallenge, code_challenge_method: codeChallengeMethod },
        settings,
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
 * @throws {PkceError} `invalid_config` for a bad field; `invalid_argument` without an API key.
 * @see https://openrouter.ai/docs/api-reference/o-auth/create-auth-keys-code
 * @example
 * const res = await fetch(buildCreateAuthCodeRequest({ callbackUrl, limit: 5 }, { apiKey }))
 * const { id } = await readCreateAuthCodeResponse(res)
 */
export function buildCreateAuthCodeRequest(params: CreateAuthKeysCodeRequest, init: { apiKey: string; baseUrl?: string }): Request {
  const apiKey = init?.apiKey;
  if (typeof apiKey !== "string" || !apiKey) fail("invalid_argument", "apiKey must be a non-empty string");
  const body: JsonObject = { callback_url: callback(params?.callbackUrl) };
  const { codeChallenge, codeChallengeMethod, workspaceId } = params;
  if (codeChallenge !== undefined) body["code_challenge"] = checkUnreserved(codeChallenge, "codeChallenge", "invalid_config");
  if (codeChallengeMethod !== undefined) body["code_challenge_method"] = checkMethod(codeChallengeMethod, "invalid_config");
  keySettings(params, body);
  if (workspaceId !== undefined) {
    body["workspace_id"] = typeof workspaceId === "string" && UUID.test(workspaceId) ? workspaceId : invalid("workspaceId must be a UUID");
  }
  return json(`${base(init.baseUrl)}/api/v1/auth/keys/code`, body, { Authorization: `Bearer ${apiKey}` });
}

/**
 * Reads the answer to {@link buildCreateAuthCodeRequest}'s request.
 * @throws {TokenError} for a non-2xx answer; {@link PkceError} `invalid_response` for a malformed one.
 */
export async function readCreateAuthCodeResponse(response: Response): Promise<CreatedAuthCode> {
  const data = (await readJson(response))["data"];
  // A parsed JSON value is an object exactly when it is an instance of this realm's Object.
  if (!(data instanceof Object)) fail("invalid_response", 'answer has no "data" object');
  const d = data as JsonObject;
  return { id: field(d, "id", "string", false)!, appId: field(d, "app_id", "number", false)!, createdAt: field(d, "created_at", "string", false)! };
}
