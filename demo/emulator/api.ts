import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, errorBody, mediaType, readBody, sendApiError, sendJson, sendPreflight } from "./http.ts";
import { Invalid, checkCodeRequest, checkExchangeRequest, verifierMatches, type ExchangeRequest } from "./rules.ts";
import {
  isExpired,
  isoSeconds,
  newApiKey,
  randomToken,
  sha256Hex,
  type CodeRequestEntry,
  type Context,
  type ExchangeEntry,
  type IssuedKey,
  type KeyRequestEntry,
  type StoredCode,
} from "./state.ts";

type Reply = { status: number; body: unknown };

/** `POST {basePath}/api/v1/auth/keys`: trades a code (and its verifier) for an API key. */
export async function handleExchange(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isPostOrPreflight(req, res)) return;
  const entry: ExchangeEntry = {
    at: new Date(ctx.now()).toISOString(),
    origin: req.headers.origin ?? null,
    contentType: req.headers["content-type"] ?? null,
    authorization: req.headers.authorization !== undefined,
    body: null,
    status: 0,
    error: null,
  };
  ctx.log.exchanges.push(entry);
  const reply = await exchange(ctx, req, entry);
  entry.status = reply.status;
  sendJson(res, reply.status, reply.body);
}

async function exchange(ctx: Context, req: IncomingMessage, entry: ExchangeEntry): Promise<Reply> {
  const fail = (status: number, message: string): Reply => failure(entry, status, message);
  const json = await readJson(req);
  entry.body = json.body;
  if (json.problem !== null) return fail(400, json.problem);
  let request: ExchangeRequest;
  try {
    request = checkExchangeRequest(json.body);
  } catch (error) {
    if (error instanceof Invalid) return fail(400, error.message);
    throw error;
  }
  const stored = ctx.codes.get(request.code);
  // Burned on the first attempt, success or not: a second try (React StrictMode) gets 403.
  ctx.codes.delete(request.code);
  if (stored === undefined) return fail(403, "Invalid code or code_verifier");
  if (isExpired(ctx, stored.createdAt)) return fail(403, "Authorization code expired");
  const { grant } = stored;
  const sentMethod = request.method ?? (grant.method === null ? null : "plain");
  if (sentMethod !== grant.method) return fail(400, "Invalid code_challenge_method");
  if (grant.challenge !== null && (request.verifier === null || !verifierMatches(grant, request.verifier))) {
    return fail(403, "Invalid code or code_verifier");
  }
  return { status: 200, body: mintKey(ctx, stored) };
}

function mintKey(ctx: Context, stored: StoredCode): { key: string; user_id: string } {
  const key = newApiKey();
  const { settings, callbackUrl } = stored.grant;
  // OpenRouter labels a key with the app's name unless key_label says otherwise.
  const label = settings.keyLabel ?? (callbackUrl === null ? "Headless app" : callbackUrl.host);
  ctx.keys.set(key, { hash: sha256Hex(key), label, settings, userId: ctx.userId, usage: 0, revoked: false });
  ctx.log.keys.push({
    at: new Date(ctx.now()).toISOString(),
    key,
    userId: ctx.userId,
    source: stored.source,
    ...stored.grant.settings,
  });
  return { key, user_id: ctx.userId };
}

/** `POST {basePath}/api/v1/auth/keys/code`: an app holding a key creates a code without the consent page. */
export async function handleCodeRequest(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isPostOrPreflight(req, res)) return;
  const entry: CodeRequestEntry = { at: new Date(ctx.now()).toISOString(), body: null, status: 0, error: null, code: null };
  ctx.log.codeRequests.push(entry);
  const reply = await createCode(ctx, req, entry);
  entry.status = reply.status;
  sendJson(res, reply.status, reply.body);
}

async function createCode(ctx: Context, req: IncomingMessage, entry: CodeRequestEntry): Promise<Reply> {
  const fail = (status: number, message: string): Reply => failure(entry, status, message);
  const json = await readJson(req);
  entry.body = json.body;
  const bearer = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer === undefined) return fail(401, "Missing Authentication header");
  if (!ctx.apiKeys.has(bearer) && usableKey(ctx, bearer) === undefined) return fail(401, "Invalid API key");
  if (json.problem !== null) return fail(400, json.problem);
  try {
    const grant = checkCodeRequest(json.body, ctx.now());
    const code = randomToken();
    ctx.codes.set(code, { grant, createdAt: ctx.now(), source: "keys/code" });
    entry.code = code;
    if (!ctx.appIds.has(bearer)) ctx.appIds.set(bearer, 1000 + ctx.appIds.size);
    return { status: 200, body: { data: { id: code, app_id: ctx.appIds.get(bearer), created_at: isoSeconds(ctx.now()) } } };
  } catch (error) {
    if (error instanceof Invalid) return fail(400, error.message);
    throw error;
  }
}

/**
 * `GET {basePath}/api/v1/key`: what OpenRouter says about the Bearer key, shaped by the official
 * schema (`GetCurrentKey`); 401 for a key it did not mint, or one revoked or expired.
 */
export function handleKeyInfo(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  if (req.method === "OPTIONS") return sendPreflight(res, "GET, OPTIONS");
  if (req.method !== "GET") return sendApiError(res, 405, "Method not allowed: use GET", { Allow: "GET, OPTIONS" });
  const bearer = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  const entry: KeyRequestEntry = { at: new Date(ctx.now()).toISOString(), origin: req.headers.origin ?? null, status: 401, keyHash: bearer === undefined ? null : sha256Hex(bearer) };
  ctx.log.keyRequests.push(entry);
  if (bearer === undefined) return sendApiError(res, 401, "Missing Authentication header");
  const issued = usableKey(ctx, bearer);
  if (issued === undefined) return sendApiError(res, 401, "User not found.");
  entry.status = 200;
  sendJson(res, 200, { data: keyData(issued) });
}

/** A minted key that is neither revoked nor expired. */
export function usableKey(ctx: Context, key: string): IssuedKey | undefined {
  const issued = ctx.keys.get(key);
  const expires = issued?.settings.expiresAt;
  if (issued === undefined || issued.revoked || (expires != null && Date.parse(expires) <= ctx.now())) return undefined;
  return issued;
}

/** The `data` of `GET /api/v1/key`: every field the schema requires, usage in every period the same. */
export function keyData(issued: IssuedKey): Record<string, unknown> {
  const { limit, usageLimitType, expiresAt } = issued.settings;
  const usage = issued.usage;
  return {
    label: issued.label,
    limit,
    limit_remaining: limit === null ? null : Math.max(0, limit - usage),
    limit_reset: usageLimitType,
    usage,
    usage_daily: usage,
    usage_weekly: usage,
    usage_monthly: usage,
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    include_byok_in_limit: false,
    is_free_tier: false,
    is_management_key: false,
    is_provisioning_key: false,
    creator_user_id: issued.userId,
    expires_at: expiresAt === null ? null : isoSeconds(Date.parse(expiresAt)),
    rate_limit: { requests: -1, interval: "10s", note: "This field is deprecated and safe to ignore." },
  };
}

function failure(entry: { error: string | null }, status: number, message: string): Reply {
  entry.error = message;
  return { status, body: errorBody(status, message) };
}

function isPostOrPreflight(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === "POST") return true;
  if (req.method === "OPTIONS") sendPreflight(res);
  else sendApiError(res, 405, "Method not allowed: use POST", { Allow: "POST, OPTIONS" });
  return false;
}

/** The body as JSON; on a problem, `body` keeps the raw text for the log. */
async function readJson(req: IncomingMessage): Promise<{ body: unknown; problem: string | null }> {
  let text: string;
  try {
    text = await readBody(req);
  } catch (error) {
    if (error instanceof BodyTooLarge) return { body: null, problem: "Request body too large" };
    throw error;
  }
  if (mediaType(req) !== "application/json") return { body: text, problem: "Content-Type must be application/json" };
  try {
    return { body: JSON.parse(text) as unknown, problem: null };
  } catch {
    return { body: text, problem: "Request body must be JSON" };
  }
}
