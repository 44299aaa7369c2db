import { fail } from "./errors.js";
import { base64url, generateCodeVerifier, webCrypto } from "./random.js";

/** PKCE code challenge methods. `plain` exists only for providers that need it; prefer `S256`. */
export type CodeChallengeMethod = "S256" | "plain";

/** A verifier with its challenge, ready for an authorization request. */
export interface PkcePair {
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: CodeChallengeMethod;
}

/** Options of {@link createPkcePair}. */
export interface PkcePairOptions {
  /** Verifier length, 43..128. @default 64 */
  length?: number;
  /** Challenge method. @default "S256" */
  method?: CodeChallengeMethod;
}

type ArgumentCode = "invalid_argument" | "invalid_config";

/** @internal Validates a challenge method name. */
export function checkMethod(method: unknown, code: ArgumentCode = "invalid_argument"): CodeChallengeMethod {
  if (method !== "S256" && method !== "plain") fail(code, "code challenge method must be S256 or plain");
  return method as CodeChallengeMethod;
}

/** @internal Validates a verifier (or a plain challenge): 43 to 128 RFC 7636 unreserved characters. */
export function checkUnreserved(value: unknown, name: string, code: ArgumentCode): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9._~-]{43,128}$/.test(value)) fail(code, `${name} must be 43-128 chars of [A-Za-z0-9-._~]`);
  return value as string;
}

/**
 * The code challenge for a verifier: base64url(SHA-256(verifier)) for `S256`, the verifier itself
 * for `plain`. Never falls back to `plain` on its own.
 * @throws {PkceError} `invalid_argument` for a verifier that is not 43..128 unreserved characters or
 *   an unknown method; `crypto_unavailable` when `crypto.subtle` is missing (insecure context).
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 * @example
 * await createCodeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
 * // "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
 */
export async function createCodeChallenge(verifier: string, method: CodeChallengeMethod = "S256"): Promise<string> {
  checkUnreserved(verifier, "code verifier", "invalid_argument");
  return challenge(verifier, checkMethod(method));
}

// The challenge of a verifier already known to be valid (checked, or made here).
async function challenge(verifier: string, method: CodeChallengeMethod): Promise<string> {
  if (method === "plain") return verifier;
  const subtle = webCrypto().subtle as SubtleCrypto | undefined;
  if (!subtle) fail("crypto_unavailable", "crypto.subtle unavailable: use https or localhost");
  return base64url(new Uint8Array(await subtle!.digest("SHA-256", new TextEncoder().encode(verifier))));
}

/**
 * A new verifier and its challenge.
 * @throws {PkceError} as {@link generateCodeVerifier} and {@link createCodeChallenge}.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 * @example
 * const { codeVerifier, codeChallenge, codeChallengeMethod } = await createPkcePair()
 */
export async function createPkcePair(options: PkcePairOptions = {}): Promise<PkcePair> {
  const method = checkMethod(options.method ?? "S256");
  const codeVerifier = generateCodeVerifier(options.length);
  return { codeVerifier, codeChallenge: await challenge(codeVerifier, method), codeChallengeMethod: method };
}
