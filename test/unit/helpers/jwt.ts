// Unsigned compact JWS for ID token tests: the library checks claims, not signatures.

// Byte by byte, not spread into one call: a payload of a few hundred KiB would overflow the stack.
const b64url = (text: string) => btoa(Array.from(new TextEncoder().encode(text), (byte) => String.fromCharCode(byte)).join("")).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A compact JWS `header.payload.signature` with the given payload (any JSON, or raw text). */
export function jwt(payload: unknown, { header = { alg: "RS256", typ: "JWT" } as unknown, signature = "c2lnbmF0dXJl", raw = false } = {}): string {
  const body = raw ? (payload as string) : JSON.stringify(payload);
  return `${b64url(JSON.stringify(header))}.${b64url(body)}.${signature}`;
}

/** Seconds since the epoch, as ID tokens count. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims that pass every check for issuer `iss`, client `aud` and `nonce`. */
export function goodClaims(overrides: Record<string, unknown> = {}, { iss = "https://as.example", aud = "my-spa", nonce = "n-0S6_WzA2Mj" } = {}): Record<string, unknown> {
  const now = nowSeconds();
  return { iss, sub: "alice", aud, exp: now + 600, iat: now, nonce, ...overrides };
}
