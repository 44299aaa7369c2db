import { AuthorizationError, fail } from "./errors.js";

/** What the callback is checked against. */
export interface CallbackExpectations {
  /**
   * The `state` sent with the authorization request. A string must come back exactly; `null`
   * means none was sent, so one that comes back is a mismatch; leave it out to skip the check.
   */
  state?: string | null | undefined;
  /** The authorization server's issuer identifier; a returned `iss` must equal it exactly. */
  issuer?: string | undefined;
  /** Fail with `issuer_missing` when the callback carries no `iss` (RFC 9207). @default false */
  requireIssuer?: boolean | undefined;
}

/** A validated authorization response. */
export interface CallbackResult {
  /** The authorization code. Single use; never log it. */
  code: string;
  /** The returned `state`, or `null` when none came back. */
  state: string | null;
  /** The returned `iss` (RFC 9207), or `null`. */
  iss: string | null;
}

const MAX_PARAM = 8192;
const MAX_ERROR_FIELD = 1000;
// Parameters of implicit or hybrid flows: their presence means the response is not ours.
const FOREIGN = ["access_token", "id_token", "token", "response"];
// Printable ASCII only: no control characters, nothing outside US-ASCII.
const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * @internal Parses a callback URL, which must be absolute.
 * @throws {PkceError} `invalid_callback`.
 */
export function callbackUrl(url: string | URL | undefined): URL {
  try {
    return new URL(url!);
  } catch {
    return fail("invalid_callback", "callback URL must be absolute");
  }
}

/**
 * @internal Rejects a callback's `state`: `state_missing` when it has none, `state_mismatch` otherwise.
 * @throws {PkceError} always.
 */
export function badState(state: string | null): never {
  return state
    ? fail("state_mismatch", "state mismatch: start the sign-in again")
    : fail("state_missing", "no state: start the sign-in again");
}

/**
 * Reads and validates an authorization response from the callback URL's query (never its
 * fragment). Checks, in order: duplicates and syntax, `iss`, `state`, `error`, then `code`.
 * @param url - The callback URL, usually `location.href`.
 * @param expected - The `state`, `issuer` and `requireIssuer` to check against.
 * @throws {PkceError} `invalid_callback` (duplicate, oversized, non-ASCII or foreign parameters,
 *   or no code), `issuer_mismatch`, `issuer_missing`, `state_mismatch`, `state_missing`.
 * @throws {AuthorizationError} when the server answered `error=`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2.4
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7
 * @example
 * const { code } = parseCallback(location.href, { state: savedState })
 */
export function parseCallback(url: string | URL, expected: CallbackExpectations = {}): CallbackResult {
  const { get, code, state, iss, fragment } = readCallback(url, expected);
  // `null` expects no state at all; a string expects exactly it; undefined skips the check.
  if ((expected.state === null || typeof expected.state === "string") && state !== expected.state) badState(state);

  const cap = (name: string) => get(name)?.slice(0, MAX_ERROR_FIELD) ?? null;
  const error = cap("error");
  if (error) throw new AuthorizationError(error, cap("error_description"), httpUrl(cap("error_uri")));
  if (!code) fail("invalid_callback", fragment ? "code is in the fragment: use response_mode=query" : "callback has no code");
  return { code, state, iss };
}

/**
 * @internal The first checks of {@link parseCallback}, in its order: duplicates and syntax, then
 * `iss`. The flow runs them before it knows whose callback this is, so the order holds even when
 * no transaction matches.
 * @throws {PkceError} `invalid_callback`, `issuer_mismatch`, `issuer_missing`.
 */
export function readCallback(url: string | URL, expected: Omit<CallbackExpectations, "state"> = {}) {
  const parsed = callbackUrl(url);
  // Every parameter, empty ones included: `state=&state=x` is a duplicate even though "" counts as absent.
  const params = new Map<string, string>();
  for (const [name, value] of parsed.searchParams) {
    if (params.has(name)) fail("invalid_callback", "duplicate callback parameter");
    if (value.length > MAX_PARAM || name.length > MAX_PARAM) fail("invalid_callback", "callback parameter over 8 KiB");
    params.set(name, value);
  }
  // An empty value counts as absent.
  const get = (name: string): string | null => params.get(name) || null;
  const foreign = FOREIGN.find(get);
  if (foreign) fail("invalid_callback", `callback carries ${foreign}: not a code response`);
  const code = get("code");
  const state = get("state");
  const iss = get("iss");
  // One test for both: a concatenation is printable exactly when its parts are ("null" is).
  if (!PRINTABLE.test(`${code}${state}`)) fail("invalid_callback", "code and state must be printable ASCII");
  if (iss && expected.issuer !== undefined && iss !== expected.issuer) {
    fail("issuer_mismatch", `iss mismatch (possible mix-up attack): expected ${expected.issuer}, got ${iss.slice(0, 200).replace(/[^\x20-\x7e]/g, "?")}`);
  }
  if (!iss && expected.requireIssuer) fail("issuer_missing", "no iss, but the issuer requires it");
  return { get, code, state, iss, fragment: parsed.hash.includes("code=") };
}

// An error_uri is kept only as an absolute http(s) URL: anything else (javascript:, data:, relative) is dropped.
function httpUrl(value: string | null): string | null {
  try {
    return /^https?:$/.test(new URL(value!).protocol) ? value : null;
  } catch {
    return null;
  }
}
