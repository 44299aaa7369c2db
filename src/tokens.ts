import { PkceError, TokenError, fail } from "./errors.js";
import type { IdTokenClaims } from "./idtoken.js";
import { readTokenResponse, type OAuth2Provider, type OAuth2Result } from "./providers/oauth2.js";
import { checkSignal, sendRequest, type JsonObject, type SendOptions } from "./request.js";
import { base64url } from "./random.js";
import { withQuery } from "./url.js";

// How long a tab marks a refresh token it has just spent (see `spent` below), in milliseconds.
const SPENT_MS = 10000;

// The name of the short-lived lock with which a tab marks a refresh token it has just spent. Web
// Locks order the tabs, but a value written to localStorage reaches another tab a moment later:
// the next tab under the lock can still read the spent token. The lock manager answers at once in
// every tab, so a tab that reads a token marked spent reads again until its storage has caught up.
// Named by the token's SHA-256, never the token itself.
async function spent(lock: string, token: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  return subtle ? `${lock} spent ${base64url(new Uint8Array(await subtle.digest("SHA-256", new TextEncoder().encode(token))))}` : null;
}

/** Options of {@link refresh}. */
export interface RefreshOptions extends SendOptions {
  /** Ask for fewer scopes than were granted (RFC 6749 6). @default the granted ones */
  scope?: string | string[] | undefined;
  /** The earlier result's `claims`: a new ID token must carry the same `sub`. */
  claims?: IdTokenClaims | undefined;
  /**
   * Stores the new result. With a token function it runs inside the cross-tab lock, before the
   * next tab reads the token, so rotation never hands a spent token to another tab.
   */
  save?: ((result: OAuth2Result) => void | Promise<void>) | undefined;
}

/** The refresh token, or a function that reads the current one from where the app keeps it. */
export type RefreshTokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

/** Options of {@link revoke}. */
export interface RevokeOptions extends SendOptions {
  /** `access_token` or `refresh_token`: helps the server find the token (RFC 7009 2.1). */
  tokenTypeHint?: "access_token" | "refresh_token" | undefined;
}

/** Options of {@link userinfo}. */
export interface UserinfoOptions extends SendOptions {
  /** The ID token's claims: the answer's `sub` must equal theirs (OpenID Connect Core 5.3.2). */
  claims?: IdTokenClaims | undefined;
}

/** Options of {@link logoutUrl}. All optional; the server may need `idTokenHint` or `postLogoutRedirectUri`. */
export interface LogoutOptions {
  /** The ID token of the session to end (`id_token_hint`). */
  idTokenHint?: string | undefined;
  /** Where the server sends the user afterwards; must be registered there. */
  postLogoutRedirectUri?: string | undefined;
  /** Given back on `postLogoutRedirectUri`. */
  state?: string | undefined;
}

type Endpoint = "tokenEndpoint" | "userinfoEndpoint" | "revocationEndpoint" | "endSessionEndpoint";

// The provider's endpoint; an OpenRouter provider or a missing endpoint is a configuration error.
function endpointOf(provider: OAuth2Provider, name: Endpoint, fn: string): string {
  if (typeof provider?.clientId !== "string" || typeof provider.tokenEndpoint !== "string") fail("invalid_config", `${fn}() needs an oauth2() or discover() provider`);
  return provider[name] ?? fail("invalid_config", `${fn}() needs the provider's ${name}`);
}

// A token to send: a non-empty string; printable ASCII without spaces when it goes into a header.
function checkToken(value: unknown, name: string, header = false): string {
  if (typeof value === "string" && (header ? /^[\x21-\x7e]+$/ : /./).test(value)) return value;
  return fail("invalid_argument", `${name} must be a non-empty string${header ? " of printable ASCII" : ""}`);
}

// Sends like the token request; a non-2xx answer's TokenError names the endpoint.
async function send(request: Request, options: SendOptions, secret: string, what: string): Promise<JsonObject> {
  try {
    return await sendRequest(request, options, [secret]);
  } catch (error) {
    throw error instanceof TokenError ? new TokenError(error.status, error.error, error.errorDescription, what) : error;
  }
}

function post(url: string, fields: Record<string, string | undefined>): Request {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value) body.set(name, value);
  return new Request(url, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" }, body });
}

// Refreshes in flight in this page, by provider and token: rotation makes a refresh token single use.
const inflight = new Map<string, Promise<OAuth2Result>>();

// One request per provider and token. Once sent it is never aborted by a caller: the server spends
// the token as it answers, so cutting the request off would lose the rotated token with it (only
// `timeoutMs` ends it). Callers that abort just stop waiting (see `detach`).
function refreshOnce(provider: OAuth2Provider, token: string, options: RefreshOptions): Promise<OAuth2Result> {
  const key = `${provider.id} ${token}`;
  let promise = inflight.get(key);
  if (!promise) {
    const scope = Array.isArray(options.scope) ? options.scope.join(" ") : options.scope;
    const request = post(provider.tokenEndpoint, { grant_type: "refresh_token", refresh_token: token, client_id: provider.clientId, scope });
    promise = send(request, { fetch: options.fetch, timeoutMs: options.timeoutMs }, token, "token endpoint").then((body) => {
      // The `sub` binding is checked per caller (`sameSub`): callers sharing the request may pass
      // different earlier claims.
      const result = readTokenResponse(provider, body, { nonce: undefined, refresh: {} });
      // RFC 6749 6: no new refresh token means the one sent stays valid.
      result.refreshToken ??= token;
      return result;
    });
    inflight.set(key, promise);
    const forget = () => inflight.delete(key);
    promise.then(forget, forget);
  }
  return promise;
}

// OpenID Connect Core 12.2: a refreshed ID token names the same user as the earlier one.
function sameSub(result: OAuth2Result, claims: IdTokenClaims | undefined): OAuth2Result {
  if (result.claims && claims?.sub !== undefined && result.claims.sub !== claims.sub) fail("invalid_id_token", "the refreshed ID token's sub differs from the earlier ID token's");
  return result;
}

// This caller's view of `work`: rejects `aborted` as soon as `signal` aborts, while `work` goes on.
function detach<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  work.catch(() => {});
  return new Promise((resolve, reject) => {
    const leave = () => reject(new PkceError("aborted", "refresh aborted"));
    if (signal.aborted) return leave();
    signal.addEventListener("abort", leave, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", leave));
  });
}

/**
 * Trades a refresh token for new tokens (RFC 6749 section 6). The result keeps the refresh token
 * that was sent when the server did not rotate it; a new ID token is checked like the first one
 * (without `nonce`; with `claims`, its `sub` must not change), and `claims` is set only then.
 * Concurrent calls with the same token in this page share one request. Given a function, the token
 * is read, sent and `save`d inside a cross-tab Web Lock named after the provider, so tabs sharing
 * token storage refresh one at a time and each sends the newest token (no lock where the browser
 * has no Web Locks). Because a localStorage write reaches other tabs a moment late, a tab marks
 * the token it has just spent (a short-lived lock named by its SHA-256) and the next tab, reading
 * that token under the lock, reads again until its storage shows the new one.
 * @throws {TokenError} when the server refuses (`invalid_grant`: the token is spent, revoked or
 *   expired; sign in again).
 * @throws {PkceError} `invalid_config` (not an `oauth2()`/`discover()` provider), `invalid_argument`
 *   (no token), `invalid_response`, `invalid_id_token`, `network_error`, `timeout`, `aborted`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 * @example
 * const result = await refresh(provider, () => localStorage.getItem("rt"), {
 *   save: (r) => localStorage.setItem("rt", r.refreshToken!),
 * })
 */
export async function refresh(provider: OAuth2Provider, refreshToken: RefreshTokenSource, options?: RefreshOptions): Promise<OAuth2Result> {
  const opts = options ?? {};
  endpointOf(provider, "tokenEndpoint", "refresh");
  const signal = checkSignal(opts.signal);
  // Checked before anything is sent: a `save` that cannot run would lose the rotated token.
  if (opts.save !== undefined && typeof opts.save !== "function") fail("invalid_argument", "save must be a function");
  // Aborted before anything is sent: nothing more is read, locked or sent.
  const stop = () => signal?.aborted && fail("aborted", "refresh aborted");
  stop();
  const locks = typeof refreshToken === "function" ? globalThis.navigator?.locks : undefined;
  const lock = `pkce-flow refresh ${provider.id}`;
  const read = async () => checkToken(typeof refreshToken === "function" ? await refreshToken() : refreshToken, "refreshToken");
  const run = async () => {
    let token = await read();
    // Under the lock: while another tab's mark says this token was just spent, this tab's storage
    // has not caught up yet; read again (for at most SPENT_MS, then let the server decide).
    for (const end = Date.now() + SPENT_MS; locks && Date.now() < end; token = await read()) {
      stop();
      const mark = await spent(lock, token);
      if (!(await locks.query()).held?.some((held) => held.name === mark)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stop();
    // From here the grant is sent: it runs to its end, and `save` with it, even for a caller
    // that aborts meanwhile (that caller stops waiting), so a rotated token is never lost.
    const result = await refreshOnce(provider, token, opts);
    // Checked before `save`: tokens of another user are never stored, whatever this caller does next.
    sameSub(result, opts.claims);
    // Only a token the server replaced is spent; one it kept (no rotation) stays good for the next tab.
    const mark = locks && result.refreshToken !== token && (await spent(lock, token));
    // Granted before this tab's lock is released, so the next tab already sees it.
    if (mark) await new Promise<void>((granted) => void locks!.request(mark, () => (granted(), new Promise((end) => setTimeout(end, SPENT_MS)))));
    await opts.save?.(result);
    return result;
  };
  if (!locks) return detach(run(), signal);
  try {
    // The signal only stops the wait for the lock; once `run` has the lock it ends on its own.
    return await detach(locks.request(lock, signal ? { signal } : {}, run), signal);
  } catch (error) {
    // Aborted while waiting for the lock: the platform's AbortError, as this library's code.
    return error instanceof PkceError || !signal?.aborted ? Promise.reject(error) : fail("aborted", "refresh aborted");
  }
}

/**
 * Asks the server to revoke a token (RFC 7009). Resolves on any 2xx answer, whatever its body.
 * @throws {TokenError} for a non-2xx answer ("revocation endpoint: HTTP 503").
 * @throws {PkceError} `invalid_config` (no `revocationEndpoint`), `invalid_argument`,
 *   `invalid_response` (a redirect), `network_error`, `timeout`, `aborted`.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2.1
 * @example
 * await revoke(provider, result.refreshToken!, { tokenTypeHint: "refresh_token" })
 */
export async function revoke(provider: OAuth2Provider, token: string, revokeOptions?: RevokeOptions): Promise<void> {
  const options = revokeOptions ?? {};
  const url = endpointOf(provider, "revocationEndpoint", "revoke");
  checkToken(token, "token");
  const fetcher = options.fetch ?? globalThis.fetch;
  const request = post(url, { token, token_type_hint: options.tokenTypeHint, client_id: provider.clientId });
  // RFC 7009 2.2: success is the status; the body is often empty, so it is not read.
  const statusOnly = async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await fetcher(input, init);
    return response.ok ? new Response("{}") : response;
  };
  await send(request, { ...options, fetch: statusOnly as typeof fetch }, token, "revocation endpoint");
}

/**
 * Reads the signed-in user's claims from the UserInfo endpoint (OpenID Connect Core 5.3).
 * @throws {TokenError} for a non-2xx answer ("userinfo endpoint: HTTP 401": the access token is
 *   expired or revoked).
 * @throws {PkceError} `invalid_config` (no `userinfoEndpoint`), `invalid_argument`,
 *   `invalid_response` (not a JSON object, no `sub`, or a `sub` other than the ID token's),
 *   `network_error`, `timeout`, `aborted`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#UserInfo
 * @example
 * const profile = await userinfo(provider, result.accessToken, { claims: result.claims })
 */
export async function userinfo(provider: OAuth2Provider, accessToken: string, userinfoOptions?: UserinfoOptions): Promise<Record<string, unknown>> {
  const options = userinfoOptions ?? {};
  const url = endpointOf(provider, "userinfoEndpoint", "userinfo");
  const token = checkToken(accessToken, "accessToken", true);
  const request = new Request(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  const body = await send(request, options, token, "userinfo endpoint");
  const { sub } = body;
  if (typeof sub !== "string" || !sub) fail("invalid_response", "userinfo answer has no sub");
  // OpenID Connect Core 5.3.2: a sub other than the ID token's means the answer is not this user's.
  if (options.claims && sub !== options.claims.sub) fail("invalid_response", "userinfo sub differs from the ID token's");
  return body;
}

/**
 * The URL that ends the user's session at the server (OpenID Connect RP-Initiated Logout 1.0),
 * with `client_id`. Navigates nowhere: the app sends the user there (`location.assign`).
 * @throws {PkceError} `invalid_config` (no `endSessionEndpoint`), `invalid_argument` (an option
 *   that is not a string).
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 * @example
 * location.assign(logoutUrl(provider, { idTokenHint: result.idToken, postLogoutRedirectUri: location.origin + "/" }))
 */
export function logoutUrl(provider: OAuth2Provider, options?: LogoutOptions): URL {
  const url = endpointOf(provider, "endSessionEndpoint", "logoutUrl");
  const { idTokenHint, postLogoutRedirectUri, state } = options ?? {};
  for (const value of [idTokenHint, postLogoutRedirectUri, state]) if (value !== undefined && typeof value !== "string") fail("invalid_argument", "logoutUrl options must be strings");
  return withQuery(url, { client_id: provider.clientId, id_token_hint: idTokenHint || undefined, post_logout_redirect_uri: postLogoutRedirectUri || undefined, state: state || undefined });
}
