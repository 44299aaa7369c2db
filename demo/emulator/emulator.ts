import type { IncomingMessage, ServerResponse } from "node:http";
import { handleCodeRequest, handleExchange, handleKeyInfo } from "./api.ts";
import { handleAuth } from "./consent.ts";
import { readBody, sendApiError, sendJson } from "./http.ts";
import { handleKeyPage, handleLogsPage } from "./keys.ts";
import { keyByHash, newUserId, sha256Hex, type Context, type EmulatorConfig, type EmulatorLog } from "./state.ts";

export type { AuthRequestEntry, CodeRequestEntry, EmulatorConfig, EmulatorLog, ExchangeEntry, IssuedKey, KeyEntry, KeyRequestEntry } from "./state.ts";
export type { ChallengeMethod, UsageLimitType } from "./rules.ts";

/** Options of {@link createEmulator}. */
export interface EmulatorOptions {
  /** Mount prefix of every route, e.g. `"/openrouter"`. @default "" */
  basePath?: string;
  /** Lifetime of an authorization code (OpenRouter: 10 minutes). @default 600000 */
  codeTtlMs?: number;
  /** Clock, in milliseconds since the epoch; tests inject one to expire codes. @default Date.now */
  now?: () => number;
  /** Bearer keys `POST /api/v1/auth/keys/code` accepts besides the keys it minted. @default ["sk-or-v1-emulator-demo"] */
  apiKeys?: string[];
  /**
   * Serve `/auth`'s pages and redirects with `Cross-Origin-Opener-Policy: same-origin`, as a
   * server may that cuts `window.opener` of a popup. Flip it at run time with
   * `POST {basePath}/__emulator/config` and the JSON body `{ "coop": true }` (or `false`);
   * `reset()` returns to this value. Never a query parameter of `/auth`: the URL the library
   * builds stays as it is. @default false
   */
  coop?: boolean;
}

/** A local stand-in for openrouter.ai's OAuth PKCE endpoints. */
export interface Emulator {
  /** The normalized mount prefix: "" or "/name" without a trailing slash. */
  readonly basePath: string;
  /** Connect-style middleware; calls `next()` (or answers 404) for paths it does not own. */
  handle(req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** Everything seen so far; cleared in place by {@link Emulator.reset}. */
  readonly log: EmulatorLog;
  /** The run-time switches (`coop`); `POST /__emulator/config` changes them. */
  readonly config: EmulatorConfig;
  /** Forgets codes, consent requests, minted keys and the log, and restores the start options' config. */
  reset(): void;
}

export const DEMO_API_KEY = "sk-or-v1-emulator-demo";

/**
 * A local stand-in for openrouter.ai's OAuth PKCE endpoints and key pages:
 * - `GET /auth` the consent page (without `callback_url`: headless, the code is shown in `#code`),
 *   `POST /auth` the decision;
 * - `POST /api/v1/auth/keys` (exchange), `POST /api/v1/auth/keys/code`, `GET /api/v1/key` (what
 *   the key can do; 401 once revoked or expired), all with CORS for any origin;
 * - `/keys/{sha256}` (settings, with a Revoke button) and `/logs?api_key_hash={sha256}` (activity),
 *   404 for keys it did not issue;
 * - emulator-only: `GET /__emulator/log`, `POST /__emulator/reset`, `POST /__emulator/revoke`
 *   `{ "key" }` or `{ "hash" }`, `POST /__emulator/spend` `{ "key", "amount" }`, and
 *   `GET|POST /__emulator/config` `{ "coop": boolean }` (Cross-Origin-Opener-Policy on `/auth`).
 */
export function createEmulator(options: EmulatorOptions = {}): Emulator {
  const basePath = normalizeBasePath(options.basePath ?? "");
  const ctx: Context = {
    basePath,
    codeTtlMs: options.codeTtlMs ?? 600_000,
    apiKeys: new Set(options.apiKeys ?? [DEMO_API_KEY]),
    userId: newUserId(),
    now: options.now ?? Date.now,
    log: { authRequests: [], exchanges: [], codeRequests: [], keys: [], keyRequests: [] },
    codes: new Map(),
    pending: new Map(),
    keys: new Map(),
    appIds: new Map(),
    config: { coop: options.coop === true },
  };

  function reset(): void {
    for (const list of Object.values(ctx.log)) list.length = 0;
    ctx.codes.clear();
    ctx.pending.clear();
    ctx.keys.clear();
    ctx.appIds.clear();
    ctx.config.coop = options.coop === true;
  }

  function route(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> | void | false {
    switch (path) {
      case "/auth":
        return handleAuth(ctx, req, res, query);
      case "/api/v1/auth/keys":
        return handleExchange(ctx, req, res);
      case "/api/v1/auth/keys/code":
        return handleCodeRequest(ctx, req, res);
      case "/__emulator/log":
        if (req.method !== "GET") return sendApiError(res, 405, "Use GET", { Allow: "GET" });
        return sendJson(res, 200, ctx.log);
      case "/__emulator/reset":
        if (req.method !== "POST") return sendApiError(res, 405, "Use POST", { Allow: "POST" });
        reset();
        return sendJson(res, 200, { ok: true });
      case "/api/v1/key":
        return handleKeyInfo(ctx, req, res);
      case "/logs":
        return handleLogsPage(ctx, req, res, query);
      case "/__emulator/config":
        return control(req, res, "GET", (body) => {
          if (body.coop !== undefined && typeof body.coop !== "boolean") return 'coop must be true or false';
          if (typeof body.coop === "boolean") ctx.config.coop = body.coop;
          return null;
        });
      case "/__emulator/revoke":
        return control(req, res, null, (body) => {
          const hash = typeof body.key === "string" ? sha256Hex(body.key) : body.hash;
          const found = typeof hash === "string" ? keyByHash(ctx, hash) : undefined;
          if (found === undefined) return "no such key";
          found[1].revoked = true;
          return null;
        });
      case "/__emulator/spend":
        return control(req, res, null, (body) => {
          const issued = typeof body.key === "string" ? ctx.keys.get(body.key) : undefined;
          if (issued === undefined) return "no such key";
          if (typeof body.amount !== "number" || !(body.amount >= 0)) return "amount must be a number >= 0";
          issued.usage += body.amount;
          return null;
        });
      default:
        if (path.startsWith("/keys/")) return handleKeyPage(ctx, req, res, path.slice("/keys/".length));
        return false;
    }
  }

  // An emulator-only control endpoint: POST a JSON object that `apply` acts on (it returns an
  // error message or null); GET, where allowed, only reads. Answers with the current config.
  async function control(req: IncomingMessage, res: ServerResponse, get: "GET" | null, apply: (body: Record<string, unknown>) => string | null): Promise<void> {
    if (req.method === "GET" && get) return sendJson(res, 200, ctx.config);
    if (req.method !== "POST") return sendApiError(res, 405, "Use POST", { Allow: get ? "GET, POST" : "POST" });
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      body = null;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return sendApiError(res, 400, "Body must be a JSON object");
    const problem = apply(body as Record<string, unknown>);
    if (problem !== null) return sendApiError(res, 400, problem);
    sendJson(res, 200, ctx.config);
  }

  function handle(req: IncomingMessage, res: ServerResponse, next?: () => void): void {
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    const fullPath = queryStart === -1 ? url : url.slice(0, queryStart);
    const query = queryStart === -1 ? "" : url.slice(queryStart + 1);
    const owned = fullPath.startsWith(`${basePath}/`) && route(req, res, fullPath.slice(basePath.length), query);
    if (owned === false) {
      if (next) return next();
      return sendApiError(res, 404, "Not found");
    }
    Promise.resolve(owned).catch((error: unknown) => {
      console.error("[openrouter-emulator]", error);
      if (!res.headersSent) sendApiError(res, 500, "Internal Server Error");
      else res.end();
    });
  }

  return { basePath, handle, log: ctx.log, config: ctx.config, reset };
}

function normalizeBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, "");
  if (trimmed !== "" && !trimmed.startsWith("/")) throw new TypeError(`basePath must start with "/": ${basePath}`);
  return trimmed;
}
