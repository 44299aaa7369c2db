/**
 * The OpenID Connect server's own log, for e2e tests in every engine: what the browser asked the
 * authorization endpoint for, what it sent to the token endpoint (the body, which neither
 * Firefox over BiDi nor WebKit over WebDriver can report) and what the server answered. Read off
 * oidc-provider's own events (`authorization.success` / `.error`, `grant.success` / `.error`), so
 * nothing in demo/oidc changes for it.
 */
import type { OidcServer } from "../../demo/oidc/server.ts";

/** The slice of oidc-provider's koa context the events carry. */
interface EventContext {
  method: string;
  status: number;
  body: unknown;
  oidc?: { params?: Record<string, unknown> };
}

interface EventError {
  error?: string;
  statusCode?: number;
  status?: number;
}

export interface OidcAuthorization {
  /** The authorization request's parameters as the server understood them (`code_challenge`, `state`, ...). */
  params: Record<string, string>;
  /** What the server sent back to the redirect URI: `{ code, state, iss }` on success, else `{ error }`. */
  response: Record<string, string>;
}

export interface OidcTokenRequest {
  /** The token request's parameters (`grant_type`, `code`, `code_verifier`, ...), as received. */
  params: Record<string, string>;
  status: number;
  /** The JSON answer on success (tokens), or `{ error }`. */
  body: Record<string, unknown>;
}

export interface OidcLog {
  readonly authorizations: OidcAuthorization[];
  readonly tokenRequests: OidcTokenRequest[];
  /** Forgets what was logged so far (call it before each test). */
  reset(): void;
}

function strings(params: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params ?? {})) if (typeof value === "string") out[key] = value;
  return out;
}

/** Starts logging what `server` sees. */
export function recordOidc(server: OidcServer): OidcLog {
  const provider = server.provider as { on(event: string, listener: (...args: never[]) => void): void };
  const log: OidcLog = {
    authorizations: [],
    tokenRequests: [],
    reset() {
      log.authorizations.length = 0;
      log.tokenRequests.length = 0;
    },
  };
  provider.on("authorization.success", (ctx: EventContext, out: Record<string, unknown>) => {
    log.authorizations.push({ params: strings(ctx.oidc?.params), response: strings(out) });
  });
  provider.on("authorization.error", (ctx: EventContext, error: EventError) => {
    log.authorizations.push({ params: strings(ctx.oidc?.params), response: { error: error.error ?? "unknown" } });
  });
  provider.on("grant.success", (ctx: EventContext) => {
    log.tokenRequests.push({ params: strings(ctx.oidc?.params), status: ctx.status, body: ctx.body as Record<string, unknown> });
  });
  provider.on("grant.error", (ctx: EventContext, error: EventError) => {
    log.tokenRequests.push({
      params: strings(ctx.oidc?.params),
      status: error.statusCode ?? error.status ?? 500,
      body: { error: error.error ?? "unknown" },
    });
  });
  return log;
}
