import { AuthorizationError, PkceError } from "./errors.js";

/** What the callback is checked against. */
export interface CallbackExpectations {
  /**
   * The `state` sent with the authorization request. A string must come back exactly; `null`
   * means none was sent, so one that comes back is a mismatch; leave it out to skip the check.
   */
  state?: string | null;
  /** The authorization server's issuer identifier; a returned `iss` must equal it exactly. */
  issuer?: string;
  /** Fail with `issuer_missing` when the callback carries no `iss` (RFC 9207). @default false */
  requireIssuer?: boolean;
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

const fail = (code: "invalid_callback" | "state_missing" | "state_mismatch" | "issuer_missing" | "issuer_mismatch", message: string): never => {
  throw new PkceError(code, message);
};

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
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PkceError("invalid_callback", "The callback URL is not an absolute URL.");
  }
  const params = new Map<string, string>();
  // Names seen, empty values included: `state=&state=x` is a duplicate even though "" counts as absent.
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(parsed.search)) {
    if (seen.has(name)) fail("invalid_callback", `The callback repeats the "${paramName(name)}" parameter.`);
    if (value.length > MAX_PARAM || name.length > MAX_PARAM) fail("invalid_callback", "A callback parameter is longer than 8 KiB.");
    seen.add(name);
    if (value !== "") params.set(name, value);
  }
  for (const name of FOREIGN) {
    if (params.has(name)) fail("invalid_callback", `The callback carries "${name}": it is not an authorization code response.`);
  }
  const code = params.get("code") ?? null;
  const state = params.get("state") ?? null;
  const iss = params.get("iss") ?? null;
  if (!PRINTABLE.test(code ?? "") || !PRINTABLE.test(state ?? "")) {
    fail("invalid_callback", "The callback's code or state holds control or non-ASCII characters.");
  }

  if (iss !== null && expected.issuer !== undefined && iss !== expected.issuer) {
    fail("issuer_mismatch", "The callback's iss differs from the expected issuer: possible mix-up attack.");
  }
  if (iss === null && expected.requireIssuer) {
    fail("issuer_missing", "The callback has no iss parameter, but this issuer always sends one.");
  }

  if (expected.state === null && state !== null) {
    fail("state_mismatch", "The callback carries a state although none was sent.");
  } else if (typeof expected.state === "string") {
    if (state === null) fail("state_missing", "The callback has no state parameter; start the sign-in again.");
    if (state !== expected.state) fail("state_mismatch", "The callback's state does not match this sign-in; start it again.");
  }

  const error = params.get("error");
  if (error !== undefined) {
    throw new AuthorizationError(cap(error)!, cap(params.get("error_description")), cap(params.get("error_uri")));
  }
  if (code === null) {
    fail(
      "invalid_callback",
      parsed.hash.includes("code=")
        ? "The callback has its code in the URL fragment; only the query is read (response_mode=query)."
        : "The callback has neither code nor error.",
    );
  }
  return { code: code!, state, iss };
}

function cap(value: string | undefined): string | null {
  return value === undefined ? null : value.slice(0, MAX_ERROR_FIELD);
}

// Parameter names are attacker-chosen: show only short, plain ones.
function paramName(name: string): string {
  return /^[\w.-]{1,32}$/.test(name) ? name : "?";
}
