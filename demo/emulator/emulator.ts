import type { IncomingMessage, ServerResponse } from "node:http";
import { handleCodeRequest, handleExchange } from "./api.ts";
import { handleAuth } from "./consent.ts";
import { sendApiError, sendJson } from "./http.ts";
import { newUserId, type Context, type EmulatorLog } from "./state.ts";

export type { AuthRequestEntry, CodeRequestEntry, EmulatorLog, ExchangeEntry, KeyEntry } from "./state.ts";
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
}

/** A local stand-in for openrouter.ai's OAuth PKCE endpoints. */
export interface Emulator {
  /** The normalized mount prefix: "" or "/name" without a trailing slash. */
  readonly basePath: string;
  /** Connect-style middleware; calls `next()` (or answers 404) for paths it does not own. */
  handle(req: IncomingMessage, res: ServerResponse, next?: () => void): void;
  /** Everything seen so far; cleared in place by {@link Emulator.reset}. */
  readonly log: EmulatorLog;
  /** Forgets codes, consent requests, minted keys and the log. */
  reset(): void;
}

export const DEMO_API_KEY = "sk-or-v1-emulator-demo";

export function createEmulator(options: EmulatorOptions = {}): Emulator {
  const basePath = normalizeBasePath(options.basePath ?? "");
  const ctx: Context = {
    basePath,
    codeTtlMs: options.codeTtlMs ?? 600_000,
    apiKeys: new Set(options.apiKeys ?? [DEMO_API_KEY]),
    userId: newUserId(),
    now: options.now ?? Date.now,
    log: { authRequests: [], exchanges: [], codeRequests: [], keys: [] },
    codes: new Map(),
    pending: new Map(),
    mintedKeys: new Set(),
    appIds: new Map(),
  };

  function reset(): void {
    for (const list of Object.values(ctx.log)) list.length = 0;
    ctx.codes.clear();
    ctx.pending.clear();
    ctx.mintedKeys.clear();
    ctx.appIds.clear();
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
      default:
        return false;
    }
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

  return { basePath, handle, log: ctx.log, reset };
}

function normalizeBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, "");
  if (trimmed !== "" && !trimmed.startsWith("/")) throw new TypeError(`basePath must start with "/": ${basePath}`);
  return trimmed;
}
