import { TokenError, fail } from "../errors.js";
import type { Provider } from "../provider.js";
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
  /** Space-separated string or list of scopes. */
  scope?: string | string[];
  /** The server's issuer identifier; a callback's `iss` must equal it (RFC 9207). */
  issuer?: string;
  /** Refuse callbacks without `iss`. @default false */
  requireIssuer?: boolean;
  /** More authorization request parameters (e.g. `prompt`); the PKCE and core ones cannot be overridden. */
  extraParams?: Record<string, string>;
}

/** A successful token response (RFC 6749 5.1), camelCased, with the whole body in `raw`. */
export interface OAuth2Result {
  accessToken: string;
  tokenType: string;
  expiresIn?: number;
  refreshToken?: string;
  scope?: string;
  idToken?: string;
  raw: Record<string, unknown>;
}

/** Options of {@link discover}: the client's own settings plus how to fetch the metadata. */
export interface DiscoverOptions extends Omit<OAuth2Options, "authorizationEndpoint" | "tokenEndpoint" | "issuer" | "requireIssuer">, SendOptions {}

const RESERVED = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"];

const invalid = (message: string): never => fail("invalid_config", message);

/**
 * A provider for any OAuth 2.0 authorization server, as a public client with PKCE (S256).
 * @throws {PkceError} `invalid_config` for a missing client id, an insecure endpoint or a bad option.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 * @example
 * const flow = createFlow(oauth2({
 *   clientId: "my-spa",
 *   authorizationEndpoint: "https://auth.example.com/authorize",
 *   tokenEndpoint: "https://auth.example.com/token",
 *   redirectUri: location.origin + "/callback",
 *   scope: ["openid", "profile"],
 * }))
 */
export function oauth2(options: OAuth2Options): Provider<OAuth2Result> {
  const { clientId, redirectUri, scope, issuer, extraParams = {} } = options ?? ({} as OAuth2Options);
  if (typeof clientId !== "string" || !clientId) invalid("clientId must be a non-empty string");
  const authorizationEndpoint = secureUrl(options.authorizationEndpoint, "authorizationEndpoint").href;
  const tokenEndpoint = secureUrl(options.tokenEndpoint, "tokenEndpoint").href;
  secureUrl(redirectUri, "redirectUri");
  if (issuer !== undefined && (typeof issuer !== "string" || !issuer)) invalid("issuer must be a non-empty string");
  const scopes = Array.isArray(scope) ? scope.join(" ") : scope;
  if (scopes !== undefined && typeof scopes !== "string") invalid("scope must be a string or string[]");
  for (const [name, value] of Object.entries(extraParams)) {
    if (RESERVED.includes(name) || typeof value !== "string") invalid(`extraParams cannot set "${name}"`);
  }
  return {
    id: `oauth2 ${issuer ?? authorizationEndpoint} ${clientId}`,
    redirectUri,
    codeChallengeMethod: "S256",
    issuer,
    requireIssuer: options.requireIssuer === true,
    authorizationUrl: ({ state, codeChallenge, codeChallengeMethod }) =>
      withQuery(
        authorizationEndpoint,
        // An empty scope is left out.
        { response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: scopes || undefined, state, code_challenge: codeChallenge, code_challenge_method: codeChallengeMethod },
        extraParams,
      ),
    tokenRequest: ({ code, codeVerifier, redirectUri: uri }) =>
      new Request(tokenEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: uri, client_id: clientId, code_verifier: codeVerifier }),
      }),
    parseResult(body) {
      const result: OAuth2Result = {
        accessToken: field(body, "access_token", "string", false)!,
        tokenType: field(body, "token_type", "string", false)!,
        raw: body,
      };
      // Optional members are left out, not set to undefined; read in this order.
      const optional = {
        expiresIn: field(body, "expires_in", "number", true),
        refreshToken: field(body, "refresh_token", "string", true),
        scope: field(body, "scope", "string", true),
        idToken: field(body, "id_token", "string", true),
      };
      for (const [name, value] of Object.entries(optional)) if (value !== undefined) Object.assign(result, { [name]: value });
      return result;
    },
  };
}

/**
 * Reads the server's metadata (OpenID Connect Discovery, falling back to RFC 8414) and returns an
 * {@link oauth2} provider for it. `requireIssuer` follows
 * `authorization_response_iss_parameter_supported`.
 * @throws {PkceError} `invalid_config` (issuer differs, insecure endpoint, no S256 support),
 *   `invalid_response`, `network_error`, `timeout`, `aborted`.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-3
 * @example
 * const provider = await discover("https://accounts.example.com", { clientId: "my-spa", redirectUri: location.origin + "/" })
 */
export async function discover(issuer: string, options: DiscoverOptions): Promise<Provider<OAuth2Result>> {
  const base = secureUrl(issuer, "issuer");
  if (base.search) invalid("issuer must not have a query");
  const path = base.pathname.replace(/\/$/, "");
  const urls = [`${base.origin}${path}/.well-known/openid-configuration`, `${base.origin}/.well-known/oauth-authorization-server${path}`];
  let meta: JsonObject | undefined;
  for (const url of urls) {
    try {
      meta = await sendRequest(new Request(url, { headers: { Accept: "application/json" } }), options);
      break;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      // Only a 404 means "try the other well-known location".
      if (error.status !== 404 || url === urls[1]) fail("invalid_response", `metadata: HTTP ${error.status}`);
    }
  }
  if (meta!["issuer"] !== issuer) invalid("metadata issuer differs (possible mix-up)");
  const methods = meta!["code_challenge_methods_supported"];
  if (methods !== undefined && !(Array.isArray(methods) && methods.includes("S256"))) invalid("server lacks PKCE S256 support");
  const endpoint = (name: string) => {
    const value = meta![name];
    return typeof value === "string" ? value : fail("invalid_response", `metadata has no ${name}`);
  };
  const { fetch: _f, timeoutMs: _t, signal: _s, ...client } = options;
  return oauth2({
    ...client,
    issuer,
    authorizationEndpoint: endpoint("authorization_endpoint"),
    tokenEndpoint: endpoint("token_endpoint"),
    requireIssuer: meta!["authorization_response_iss_parameter_supported"] === true,
  });
}
