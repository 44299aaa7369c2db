import type { IncomingMessage, ServerResponse } from "node:http";
import { mediaType, readBody, redirect, sendHtml } from "./http.ts";
import { codePage, consentPage, deniedPage, errorPage, pageHeaders } from "./pages.ts";
import { Invalid, checkAuthQuery, type Grant } from "./rules.ts";
import { isExpired, randomToken, type AuthRequestEntry, type Context } from "./state.ts";

/** `{basePath}/auth`: GET shows the consent page, POST takes the Allow / Deny decision. */
export async function handleAuth(ctx: Context, req: IncomingMessage, res: ServerResponse, query: string): Promise<void> {
  if (req.method === "GET") return showConsent(ctx, res, new URLSearchParams(query));
  if (req.method === "POST") return decide(ctx, req, res);
  sendHtml(res, 405, errorPage("Use GET to open the consent page."), { ...headers(ctx), Allow: "GET, POST" });
}

/** Page headers of `/auth`, with Cross-Origin-Opener-Policy while the `coop` switch is on. */
function headers(ctx: Context, form?: URL | "self"): Record<string, string> {
  return { ...pageHeaders(form), ...coop(ctx) };
}

function coop(ctx: Context): Record<string, string> {
  return ctx.config.coop ? { "Cross-Origin-Opener-Policy": "same-origin" } : {};
}

function showConsent(ctx: Context, res: ServerResponse, query: URLSearchParams): void {
  const params: Record<string, string> = {};
  for (const [name, value] of query) params[name] ??= value;
  const entry: AuthRequestEntry = {
    at: new Date(ctx.now()).toISOString(),
    params,
    status: 200,
    error: null,
    codeChallengeMethod: null,
    decision: null,
  };
  ctx.log.authRequests.push(entry);
  let grant: Grant;
  try {
    grant = checkAuthQuery(query, ctx.now());
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    entry.status = 400;
    entry.error = error.message;
    return sendHtml(res, 400, errorPage(error.message), headers(ctx));
  }
  entry.codeChallengeMethod = grant.method;
  const requestId = randomToken();
  ctx.pending.set(requestId, { grant, createdAt: ctx.now(), entry });
  const origin = grant.callbackUrl?.origin ?? null;
  const html = consentPage({
    action: `${ctx.basePath}/auth`,
    requestId,
    callbackOrigin: origin,
    settings: [
      ["Key label", params.key_label ?? null],
      ["Credit limit", params.limit ?? null],
      ["Limit resets", params.usage_limit_type ?? null],
      ["Key expires", params.expires_at ?? null],
      ["PKCE", describeChallenge(grant, params.code_challenge_method)],
    ],
  });
  sendHtml(res, 200, html, headers(ctx, grant.callbackUrl ?? "self"));
}

function describeChallenge(grant: Grant, sentMethod: string | undefined): string {
  if (grant.method === null) return "none (no code_challenge)";
  return sentMethod === undefined ? "plain (no code_challenge_method sent; RFC 7636 default)" : grant.method;
}

async function decide(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = mediaType(req) === "application/x-www-form-urlencoded" ? new URLSearchParams(await readBody(req)) : new URLSearchParams();
  const decision = form.get("decision");
  if (decision !== "allow" && decision !== "deny") return sendHtml(res, 400, errorPage("Choose Allow or Deny."), headers(ctx));
  const requestId = form.get("request") ?? "";
  const pending = ctx.pending.get(requestId);
  // Single use, so a double click cannot mint two codes.
  ctx.pending.delete(requestId);
  if (pending === undefined || isExpired(ctx, pending.createdAt)) {
    const message = "This authorization request was already answered or has expired. Start again from the app.";
    return sendHtml(res, 400, errorPage(message), headers(ctx));
  }
  pending.entry.decision = decision;
  const { callbackUrl } = pending.grant;
  if (decision === "deny") {
    if (callbackUrl === null) return sendHtml(res, 200, deniedPage(), headers(ctx));
    const denied = { error: "access_denied", error_description: "The user denied access to their OpenRouter account." };
    return redirect(res, withParams(callbackUrl, denied), coop(ctx));
  }
  const code = randomToken();
  ctx.codes.set(code, { grant: pending.grant, createdAt: ctx.now(), source: "auth" });
  // Headless: no callback, so the code is shown for the user to paste.
  if (callbackUrl === null) return sendHtml(res, 200, codePage(code), headers(ctx));
  redirect(res, withParams(callbackUrl, { code }), coop(ctx));
}

/** Appends to the callback's query without re-encoding what the app put there (its `state`, say). */
export function withParams(callbackUrl: URL, params: Record<string, string>): string {
  const href = callbackUrl.href;
  const separator = href.endsWith("?") || href.endsWith("&") ? "" : callbackUrl.search === "" ? "?" : "&";
  return href + separator + new URLSearchParams(params).toString();
}
