import { fail } from "./errors.js";

/** The claims of a checked ID token (OpenID Connect Core 2); other claims pass through as they came. */
export interface IdTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly nonce?: string;
  readonly azp?: string;
  readonly [claim: string]: unknown;
}

/** @internal What an ID token must match. */
export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  /** A string: the claim must equal it; `null`: no nonce was sent, so none may come; `undefined`: not checked (refresh). */
  nonce: string | null | undefined;
  /** The earlier ID token's `sub`, which a refreshed one must repeat. */
  sub?: string | undefined;
}

// Clocks of browser and server may differ this much (seconds).
const SKEW = 60;

const bad = (what: string): never => fail("invalid_id_token", `ID token refused: ${what}`);

// One base64url part of a compact JWS as a JSON object; `null` for anything else.
function part(text: string | undefined): Record<string, unknown> | null {
  try {
    if (!text || !/^[\w-]+$/.test(text)) return null;
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return value instanceof Object && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * @internal Decodes an ID token and checks its claims; returns the payload, frozen. The signature
 * is not verified: the token came straight from the token endpoint over TLS (OpenID Connect Core
 * 3.1.3.7, step 6), so `alg` (even `none`) is not looked at.
 * @throws {PkceError} `invalid_id_token`, naming the rule that failed and never the token.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export function checkIdToken(idToken: string, expected: IdTokenExpectations): IdTokenClaims {
  const parts = idToken.split(".");
  const claims = parts.length === 3 && part(parts[0]) ? part(parts[1]) : null;
  if (!claims) return bad("not a compact JWS with a JSON payload");
  const { iss, sub, aud, azp, exp, iat, nonce } = claims;
  const { clientId } = expected;
  if (iss !== expected.issuer) bad(`iss is not ${expected.issuer}`);
  if (typeof sub !== "string" || !sub) bad("no sub");
  if (!(aud === clientId || (Array.isArray(aud) && aud.includes(clientId)))) bad("aud does not name this client");
  if ((azp !== undefined || (Array.isArray(aud) && aud.length > 1)) && azp !== clientId) bad("azp is not this client");
  const now = Date.now() / 1000;
  // Finite: JSON.parse reads 1e400 as Infinity, a token that would never expire.
  if (!(Number.isFinite(exp) && (exp as number) + SKEW > now)) bad("exp is not a finite time in the future");
  if (!Number.isFinite(iat)) bad("no iat");
  if (expected.nonce !== undefined && nonce !== (expected.nonce ?? undefined)) bad("nonce differs from this sign-in's");
  if (expected.sub !== undefined && sub !== expected.sub) bad("sub differs from the earlier ID token's");
  return deepFreeze(claims) as IdTokenClaims;
}

/** @internal Freezes a JSON value and everything in it; returns it. */
export function deepFreeze<T>(value: T): T {
  // A loop, not recursion, so a server's deeply nested JSON cannot overflow the stack; values are
  // pushed one by one, since spreading a long array into one call overflows it too.
  for (const stack: unknown[] = [value]; stack.length; ) {
    const next = stack.pop();
    if (next instanceof Object && !Object.isFrozen(next)) for (const item of Object.values(Object.freeze(next))) stack.push(item);
  }
  return value;
}
