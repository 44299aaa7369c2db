import { fail } from "./errors.js";

// RFC 7636 4.1 unreserved characters: 66 of them.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
// Largest multiple of 66 below 256: bytes at or above it are dropped so every character is
// equally likely (plain `byte % 66` would favour the first 58 characters).
const LIMIT = 256 - (256 % ALPHABET.length);

/** @internal Web Crypto, or a typed error when the page has none. */
export function webCrypto(): Crypto {
  const c = globalThis.crypto as Crypto | undefined;
  if (typeof c?.getRandomValues !== "function") fail("crypto_unavailable", "Web Crypto unavailable");
  return c!;
}

/**
 * base64url without padding, for short inputs (32 bytes here: spread as call arguments).
 * @see https://www.rfc-editor.org/rfc/rfc7636#appendix-A
 */
export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * A fresh PKCE code verifier: `length` characters from RFC 7636's unreserved set, each uniform.
 * @param length - 43 to 128 characters. @default 64
 * @throws {PkceError} `invalid_argument` for a length outside 43..128 or not an integer;
 *   `crypto_unavailable` without Web Crypto.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 * @example
 * const verifier = generateCodeVerifier() // 64 characters
 */
export function generateCodeVerifier(length = 64): string {
  if (!Number.isInteger(length) || length < 43 || length > 128) fail("invalid_argument", "verifier length must be an integer 43-128");
  const c = webCrypto();
  const codes: number[] = [];
  // About 77% of bytes are kept; drawing twice the length makes a second round rare. Surplus
  // characters are cut off: each one is uniform, so any `length` of them are too. Character codes
  // are collected and turned into one string at the end (cheaper than growing a string).
  while (codes.length < length) {
    for (const byte of c.getRandomValues(new Uint8Array(length * 2))) if (byte < LIMIT) codes.push(ALPHABET.charCodeAt(byte % ALPHABET.length));
  }
  return String.fromCharCode(...codes.slice(0, length));
}

/**
 * A fresh `state` value: 256 random bits as 43 base64url characters.
 * @throws {PkceError} `crypto_unavailable` without Web Crypto.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1
 */
export function generateState(): string {
  return base64url(webCrypto().getRandomValues(new Uint8Array(32)));
}
