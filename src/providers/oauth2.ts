import { TokenError, fail, printable, type PkceErrorCode } from "../errors.js";
import { checkIdToken, deepFreeze, type IdTokenClaims } from "../idtoken.js";
import type { ParamValue, Provider } from "../provider.js";
import { field, sendRequest, type JsonObject, type SendOptions } from "../request.js";
import { secureUrl, withQuery } from "../url.js";

/** Options of {@link oauth2}: a public client of any RFC 6749 authorization server. */
export interface OAuth2Options {
  clientId: string;
  /** https, or http on a loopback host. */
  authorizationEndpoint: string;
  /** https, or http on a loopback host. */
  tokenEndpoint: string;
  /** Sent byte for byte in both the authorization and the token request. */
  redirectUri: string;
  /** Space-separated string or list of scopes. With `openid`, `issuer` is required and ID tokens are checked. */
  scope?: string | string[];
  /** The server's issuer identifier; a callback's `iss` and an ID token's `iss` must equal it (RFC 9207). */
  issuer?: string;
  /** Refuse callbacks without `iss`. @default false */
  requireIssuer?: boolean;
  /**
   * More authorization request parameters (e.g. `audience`), sent as `String(value)`. The ones the
   * library owns (`state`, `nonce`, `code_challenge`, `response_mode`, `request`, ...) cannot be set.
   */
  extraParams?: Record<string, ParamValue>;
  /** OpenID Connect Core 5.3, for {@link userinfo}. https, or http on a loopback host. */
  userinfoEndpoint?: string;
  /** RFC 7009, for {@link revoke}. https, or http on a loopback host. */
  revocationEndpoint?: string;
  /** OpenID Connect RP-Initiated Logout 1.0, for {@link logoutUrl}. https, or http on a loopback host. */
  endSessionEndpoint?: string;
}

/** A successful token response (RFC 6749 5.1), camelCased, with the whole body in `raw`. */
export interface OAuth2Result {
  accessToken: string;
  /** `Bearer` (in the server's spelling); any other type is refused. */
  tokenType: string;
  expiresIn?: number;
  /** When the access token expires, in milliseconds since the epoch (set whenever `expiresIn` is). */
  expiresAt?: number;
  refreshToken?: string;
  scope?: string;
  idToken?: string;
  /** The checked claims of `idToken` (OpenID Connect), frozen. */
  claims?: IdTokenClaims;
  raw: Record<string, unknown>;
}

/**
 * A provider made by {@link oauth2} or {@link discover}: a {@link Provider} that also tells
 * {@link refresh}, {@link revoke}, {@link userinfo} and {@link logoutUrl} where to go.
 */
export interface OAuth2Provider extends Provider<OAuth2Result> {
  /** The public client's id, sent as `client_id` in every request. */
  readonly clientId: string;
  /** Where the user is sent to sign in (normalised URL). */
  readonly authorizationEndpoint: string;
  /** Where codes and refresh tokens are exchanged (normalised URL). */
  readonly tokenEndpoint: string;
  /** For {@link userinfo}, when configured or discovered. */
  readonly userinfoEndpoint?: string | undefined;
  /** For {@link revoke}, when configured or discovered. */
  readonly revocationEndpoint?: string | undefined;
  /** For {@link logoutUrl}, when configured or discovered. */
  readonly endSessionEndpoint?: string | undefined;
  /** The validated discovery document, deep-frozen (providers made by {@link discover}). */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

/** Options of {@link discover}: the client's own settings plus how to fetch the metadata. */
export interface DiscoverOptions
  extends Omit<OAuth2Options, "authorizationEndpoint" | "tokenEndpoint" | "issuer" | "requireIssuer" | "userinfoEndpoint" | "revocationEndpoint" | "endSessionEndpoint">,
    SendOptions {}

// The parameters the library sets, and those that would bypass its checks (RFC 9101, JARM).
const RESERVED = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "response_mode", "request", "request_uri"];

const invalid = (message: string): never => fail("invalid_config", message);

// Refuses a reserved name (any case, any surrounding whitespace) or a value that is not a string, number or boolean.
function checkParams(params: Record<string, unknown> | undefined, what: string, code: PkceErrorCode): void {
  if (params !== undefined && (typeof params !== "object" || Array.isArray(params))) fail(code, `${what} must be an object`);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (RESERVED.includes(name.trim().toLowerCase()) || !["string", "number", "boolean"].includes(typeof value)) fail(code, `${what} cannot set "${name}"`);
  }
}

/** @internal How a token response's ID token is checked (see {@link readTokenResponse}). */
export interface IdTokenCheck {
  /** The transaction's nonce; `null` when none was sent; `undefined` on refresh (not checked). */
  nonce: string | null | undefined;
  /** Refresh: no ID token is fine; one that comes must repeat this `sub` when given. */
  refresh?: { sub?: string | undefined };
}

/**
 * @internal Maps a 2xx token response of `provider`'s server to an {@link OAuth2Result}.
 * @throws {PkceError} `invalid_response`, `invalid_id_token`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function readTokenResponse(provider: OAuth2Provider, body: JsonObject, check: IdTokenCheck): OAuth2Result {
  const tokenType = field(body, "token_type", "string", false)!;
  // RFC 6749 7.1: a client must not use a token whose type it does not understand.
  if (tokenType.toLowerCase() !== "bearer") fail("invalid_response", "token_type is not Bearer");
  const result: OAuth2Result = { accessToken: field(body, "access_token", "string", false)!, tokenType, raw: body };
  let expiresIn: unknown = body["expires_in"];
  if (expiresIn === "" || expiresIn == null) expiresIn = undefined;
  // Real servers send "3600" as often as 3600.
  else if (typeof expiresIn === "string" && /^\d+$/.test(expiresIn)) expiresIn = Number(expiresIn);
  const expiresAt = expiresIn === undefined ? undefined : Date.now() + (expiresIn as number) * 1000;
  // expiresAt must be a time a Date can hold (8.64e15 ms): 1e308 s is finite, but gives Infinity.
  if (expiresIn !== undefined && !(typeof expiresIn === "number" && expiresIn >= 0 && expiresAt! <= 864e13)) fail("invalid_response", 'answer has no valid "expires_in"');
  // Optional members are left out, not set to undefined; read in this order.
  const optional = {
    expiresIn,
    expiresAt,
    refreshToken: field(body, "refresh_token", "string", true),
    scope: field(body, "scope", "string", true),
    idToken: field(body, "id_token", "string", true),
  };
  for (const [name, value] of Object.entries(optional)) if (value !== undefined) Object.assign(result, { [name]: value });
  if (provider.nonce) {
    const { idToken, scope } = result;
    if (idToken) result.claims = checkIdToken(idToken, { issuer: provider.issuer!, clientId: provider.clientId, nonce: check.nonce, sub: check.refresh?.sub });
    // OpenID Connect Core 3.1.3.3: an ID token is due unless the granted scope left out openid.
    else if (!check.refresh && !(scope !== undefined && !scope.split(/\s+/).includes("openid"))) fail("invalid_id_token", "the token response has no ID token");
  }
  return result;
}

/**
 * A provider for any OAuth 2.0 authorization server, as a public client with PKCE (S256). With
 * `openid` in the scope it is an OpenID Connect relying party: each sign-in sends its own `nonce`
 * and the ID token's claims are checked before the result is given.
 * @throws {PkceError} `invalid_config` for a missing client id, an insecure endpoint, `openid`
 *   without `issuer`, a reserved name in `extraParams` or another bad option.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 * @example
 * const flow = createFlow(oauth2({
 *   clientId: "my-spa",
 *   issuer: "https://auth.example.com",
 *   authorizationEndpoint: "https://auth.example.com/authorize",
 *   tokenEndpoint: "https://auth.example.com/token",
 *   redirectUri: location.origin + "/callback",
 *   scope: ["openid", "profile"],
 * }))
 */
export function oauth2(options: OAuth2Options): OAuth2Provider {
  const { clientId, redirectUri, scope, issuer, extraParams } = options ?? ({} as OAuth2Options);
  if (typeof clientId !== "string" || !clientId) invalid("clientId must be a non-empty string");
  const authorizationEndpoint = secureUrl(options.authorizationEndpoint, "authorizationEndpoint").href;
  const tokenEndpoint = secureUrl(options.tokenEndpoint, "tokenEndpoint").href;
  // Optional endpoints: checked like the others when given.
  const [userinfoEndpoint, revocationEndpoint, endSessionEndpoint] = (["userinfoEndpoint", "revocationEndpoint", "endSessionEndpoint"] as const).map((name) =>
    options[name] === undefined ? undefined : secureUrl(options[name], name).href,
  );
  secureUrl(redirectUri, "redirectUri");
  if (issuer !== undefined && (typeof issuer !== "string" || !issuer)) invalid("issuer must be a non-empty string");
  const scopes = Array.isArray(scope) ? scope.join(" ") : scope;
  if (scopes !== undefined && typeof scopes !== "string") invalid("scope must be a string or string[]");
  const openid = scopes?.split(/\s+/).includes("openid") === true;
  if (openid && !issuer) invalid("issuer is required when the scope includes openid");
  checkParams(extraParams, "extraParams", "invalid_config");
  const provider: OAuth2Provider = {
    // Binds stored transactions to this server and client: a flow for other endpoints never takes them.
    id: `oauth2 ${JSON.stringify([issuer, authorizationEndpoint, tokenEndpoint, clientId])}`,
    redirectUri,
    codeChallengeMethod: "S256",
    issuer,
    requireIssuer: options.requireIssuer === true,
    nonce: openid,
    clientId,
    authorizationEndpoint,
    tokenEndpoint,
    userinfoEndpoint,
    revocationEndpoint,
    endSessionEndpoint,
    authorizationUrl({ state, codeChallenge, codeChallengeMethod, nonce, params }) {
      checkParams(params, "params", "invalid_argument");
      return withQuery(
        authorizationEndpoint,
        // An empty scope is left out.
        { response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: scopes || undefined, state, nonce, code_challenge: codeChallenge, code_challenge_method: codeChallengeMethod },
        // A name in both takes the per-request value.
        { ...extraParams, ...params },
      );
    },
    tokenRequest: ({ code, codeVerifier, redirectUri: uri }) =>
      new Request(tokenEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: uri, client_id: clientId, code_verifier: codeVerifier }),
      }),
    parseResult: (body, { nonce }) => readTokenResponse(provider, body, { nonce: nonce ?? null }),
  };
  return provider;
}

/**
 * Reads the server's metadata (OpenID Connect Discovery, falling back to RFC 8414) and returns an
 * {@link oauth2} provider for it, with the userinfo, revocation and end-session endpoints the
 * metadata names and the whole document as `metadata` (deep-frozen). `requireIssuer` follows
 * `authorization_response_iss_parameter_supported`.
 * @throws {PkceError} `invalid_config` (a bad client option, checked before anything is sent;
 *   issuer differs, insecure endpoint, no S256 support), `invalid_argument` (a bad `timeoutMs` or
 *   `signal`, nothing sent), `invalid_response`, `network_error`, `timeout`, `aborted`.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-3
 * @example
 * const provider = await discover("https://accounts.example.com", { clientId: "my-spa", redirectUri: location.origin + "/", scope: ["openid"] })
 */
export async function discover(issuer: string, options: DiscoverOptions): Promise<OAuth2Provider> {
  const base = secureUrl(issuer, "issuer");
  if (base.search) invalid("issuer must not have a query");
  const { fetch, timeoutMs, signal, ...client } = options ?? ({} as DiscoverOptions);
  // The client's own options are checked before the metadata is fetched, with the issuer standing
  // in for the endpoints (already checked as https or loopback).
  oauth2({ ...client, issuer, authorizationEndpoint: issuer, tokenEndpoint: issuer });
  const path = base.pathname.replace(/\/$/, "");
  const urls = [`${base.origin}${path}/.well-known/openid-configuration`, `${base.origin}/.well-known/oauth-authorization-server${path}`];
  let meta: JsonObject | undefined;
  for (const url of urls) {
    try {
      meta = await sendRequest(new Request(url, { headers: { Accept: "application/json" } }), { fetch, timeoutMs, signal });
      break;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      // Only a 404 means "try the other well-known location".
      if (error.status !== 404 || url === urls[1]) fail("invalid_response", `metadata: HTTP ${error.status}`);
    }
  }
  const got = meta!["issuer"];
  // The server's text is made printable as in TokenError's message.
  if (got !== issuer) invalid(`metadata issuer differs (possible mix-up): expected ${issuer}, got ${typeof got === "string" ? printable(got) : "none"}`);
  const methods = meta!["code_challenge_methods_supported"];
  if (methods !== undefined && !(Array.isArray(methods) && methods.includes("S256"))) invalid("server lacks PKCE S256 support");
  const endpoint = (name: string) => {
    const value = meta![name];
    return typeof value === "string" ? value : fail("invalid_response", `metadata has no ${name}`);
  };
  // Absent optional endpoints stay absent; present ones are checked by oauth2() like configured ones.
  const optional = { userinfoEndpoint: "userinfo_endpoint", revocationEndpoint: "revocation_endpoint", endSessionEndpoint: "end_session_endpoint" };
  const endpoints: Partial<OAuth2Options> = {};
  for (const [name, wire] of Object.entries(optional)) if (meta![wire] != null) Object.assign(endpoints, { [name]: meta![wire] });
  const provider = oauth2({
    ...client,
    ...endpoints,
    issuer,
    authorizationEndpoint: endpoint("authorization_endpoint"),
    tokenEndpoint: endpoint("token_endpoint"),
    requireIssuer: meta!["authorization_response_iss_parameter_supported"] === true,
  });
  return { ...provider, metadata: deepFreeze(meta!) };
}
