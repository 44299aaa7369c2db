// An S256 challenge computed independently of src/: the tests compare the library against it.

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url without padding, bit by bit rather than through `btoa` as src/random.ts does. */
function toBase64url(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += B64URL[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** base64url(SHA-256(ascii verifier)), RFC 7636 4.2. */
export async function referenceChallenge(verifier: string): Promise<string> {
  const bytes = Uint8Array.from(verifier, (c) => c.charCodeAt(0));
  return toBase64url(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}
