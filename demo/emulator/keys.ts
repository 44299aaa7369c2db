import type { IncomingMessage, ServerResponse } from "node:http";
import { mediaType, readBody, sendHtml } from "./http.ts";
import { errorPage, keyPage, logsPage, notFoundPage, pageHeaders } from "./pages.ts";
import { isoSeconds, keyByHash, type Context } from "./state.ts";

const HASH = /^[0-9a-f]{64}$/;

/**
 * `{basePath}/keys/{sha256}`: the key's settings page, with a Revoke button (the user revoking
 * the key on OpenRouter). 404 for a hash of no key this user was issued, as OpenRouter does for
 * anyone but the owner.
 */
export async function handleKeyPage(ctx: Context, req: IncomingMessage, res: ServerResponse, hash: string): Promise<void> {
  const found = HASH.test(hash) ? keyByHash(ctx, hash) : undefined;
  if (found === undefined) return sendHtml(res, 404, notFoundPage(), pageHeaders());
  const [, issued] = found;
  if (req.method === "POST") {
    const form = mediaType(req) === "application/x-www-form-urlencoded" ? new URLSearchParams(await readBody(req)) : new URLSearchParams();
    if (form.get("action") !== "revoke") return sendHtml(res, 400, errorPage("Unknown action."), pageHeaders());
    issued.revoked = true;
  } else if (req.method !== "GET") {
    return sendHtml(res, 405, errorPage("Use GET or POST."), { ...pageHeaders(), Allow: "GET, POST" });
  }
  const { limit, usageLimitType, expiresAt } = issued.settings;
  const html = keyPage({
    hash,
    label: issued.label,
    revoked: issued.revoked,
    action: `${ctx.basePath}/keys/${hash}`,
    rows: [
      ["Credit limit", limit === null ? "none" : String(limit)],
      ["Limit resets", usageLimitType ?? "never"],
      ["Expires", expiresAt === null ? "never" : isoSeconds(Date.parse(expiresAt))],
      ["Used", String(issued.usage)],
    ],
  });
  sendHtml(res, 200, html, pageHeaders(issued.revoked ? undefined : "self"));
}

/** `{basePath}/logs?api_key_hash={sha256}`: the key's activity page; 404 for an unknown hash. */
export function handleLogsPage(ctx: Context, req: IncomingMessage, res: ServerResponse, query: string): void {
  if (req.method !== "GET") return sendHtml(res, 405, errorPage("Use GET."), { ...pageHeaders(), Allow: "GET" });
  const hash = new URLSearchParams(query).get("api_key_hash") ?? "";
  const found = HASH.test(hash) ? keyByHash(ctx, hash) : undefined;
  if (found === undefined) return sendHtml(res, 404, notFoundPage(), pageHeaders());
  sendHtml(res, 200, logsPage({ hash, label: found[1].label, usage: found[1].usage }), pageHeaders());
}
