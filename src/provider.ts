import type { CodeChallengeMethod } from "./pkce.js";

/** A per-request authorization parameter's value; sent as `String(value)`. */
export type ParamValue = string | number | boolean;

/** What a provider needs to build the authorization URL. */
export interface AuthorizationParams {
  state: string;
  codeChallenge: string;
  codeChallengeMethod: CodeChallengeMethod;
  /** This transaction's OpenID Connect nonce, when the provider asks for one (`nonce: true`). */
  nonce?: string | undefined;
  /**
   * Parameters for this request only (`start({ params })`). The provider refuses the names it
   * owns with `invalid_argument`.
   */
  params?: Record<string, ParamValue> | undefined;
}

/** What the flow knows about the transaction when it reads the token response. */
export interface ResultContext {
  /** The nonce sent with the authorization request, if any. */
  nonce?: string | undefined;
}

/** What a provider needs to build the token request, taken from the stored transaction. */
export interface TokenParams {
  code: string;
  codeVerifier: string;
  codeChallengeMethod: CodeChallengeMethod;
  redirectUri: string;
}

/**
 * A provider: a plain object that builds the authorization URL and the token request, and reads
 * the token response. {@link openRouter} and {@link oauth2} make one; `createFlow` drives it.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 */
export interface Provider<Result = unknown> {
  /** Scopes stored transactions, so two providers in one storage never take each other's. */
  readonly id: string;
  /** The redirect URI sent with the authorization request (and, for RFC 6749, the token request). */
  readonly redirectUri: string;
  /** The PKCE method this provider uses. */
  readonly codeChallengeMethod: CodeChallengeMethod;
  /** The issuer identifier a callback's `iss` must equal (RFC 9207), if known. */
  readonly issuer?: string | undefined;
  /** The server always sends `iss`: a callback without one is refused. */
  readonly requireIssuer?: boolean | undefined;
  /** Accept a callback without `state` when exactly one transaction of this provider is pending. */
  readonly statelessCallback?: boolean | undefined;
  /** OpenID Connect: the flow makes a nonce per transaction, sends it and hands it to `parseResult`. */
  readonly nonce?: boolean | undefined;
  /** No callback (the user pastes the code): `start()` and `popup()` refuse, `exchangeCode()` works. */
  readonly headless?: boolean | undefined;
  /**
   * The URL to send the user to. Sends nothing.
   * @throws {PkceError} `invalid_argument` for a per-request parameter the provider owns.
   */
  authorizationUrl(params: AuthorizationParams): URL;
  /** The token request for a validated callback. Sends nothing. */
  tokenRequest(params: TokenParams): Request;
  /**
   * Maps a 2xx JSON object from the token endpoint to the result.
   * @throws {PkceError} `invalid_response` when required fields are missing or mistyped;
   *   `invalid_id_token` when an ID token fails its checks.
   */
  parseResult(body: Record<string, unknown>, context: ResultContext): Result;
}
