import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, createCodeChallenge, createPkcePair, generateCodeVerifier, isPkceError } from "../../src/index.ts";
import type { CodeChallengeMethod } from "../../src/index.ts";
import { rejection } from "./helpers/errors.ts";
import { referenceChallenge } from "./helpers/reference.ts";

// RFC 7636 Appendix B.
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** Web Crypto as in an insecure context: getRandomValues works, subtle is missing. */
function stubInsecureContext(): void {
  const real = globalThis.crypto;
  vi.stubGlobal("crypto", { getRandomValues: (array: Uint8Array<ArrayBuffer>) => real.getRandomValues(array) });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("createCodeChallenge", () => {
  it("matches the RFC 7636 Appendix B vector", async () => {
    await expect(createCodeChallenge(RFC_VERIFIER)).resolves.toBe(RFC_CHALLENGE);
    await expect(createCodeChallenge(RFC_VERIFIER, "S256")).resolves.toBe(RFC_CHALLENGE);
  });

  it("agrees with an independent SHA-256 + base64url for 200 random verifiers of every length", async () => {
    for (let i = 0; i < 200; i++) {
      const verifier = generateCodeVerifier(43 + (i % 86));
      const challenge = await createCodeChallenge(verifier);
      expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(challenge).toBe(await referenceChallenge(verifier));
    }
  });

  it("returns the verifier itself for plain", async () => {
    await expect(createCodeChallenge(RFC_VERIFIER, "plain")).resolves.toBe(RFC_VERIFIER);
  });

  it.each([
    { what: "43 characters", verifier: "a".repeat(43) },
    { what: "128 characters", verifier: "Z".repeat(128) },
    { what: "every unreserved character", verifier: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" },
  ])("accepts a verifier of $what", async ({ verifier }) => {
    await expect(createCodeChallenge(verifier, "plain")).resolves.toBe(verifier);
    await expect(createCodeChallenge(verifier)).resolves.toBe(await referenceChallenge(verifier));
  });

  it.each<{ what: string; verifier: unknown }>([
    { what: "42 characters", verifier: "a".repeat(42) },
    { what: "129 characters", verifier: "a".repeat(129) },
    { what: "empty", verifier: "" },
    { what: "a space", verifier: `${"a".repeat(42)} ` },
    { what: "a plus sign", verifier: `${"a".repeat(42)}+` },
    { what: "a slash", verifier: `${"a".repeat(42)}/` },
    { what: "padding", verifier: `${"a".repeat(42)}=` },
    { what: "a percent escape", verifier: `${"a".repeat(40)}%7E` },
    { what: "non-ASCII", verifier: `${"a".repeat(42)}é` },
    { what: "a newline", verifier: `${"a".repeat(43)}\n` },
    { what: "a number instead of a string", verifier: 1234567890 },
    { what: "undefined", verifier: undefined },
  ])("rejects a verifier with $what as invalid_argument, for S256 and plain", async ({ verifier }) => {
    for (const method of ["S256", "plain"] as const) {
      const error = await rejection(createCodeChallenge(verifier as string, method));
      expect(error).toBeInstanceOf(PkceError);
      expect(isPkceError(error, "invalid_argument")).toBe(true);
      if (typeof verifier === "string" && verifier !== "") expect((error as Error).message).not.toContain(verifier);
    }
  });

  it.each(["s256", "SHA-256", "S512", "PLAIN", "", "none"])("rejects the unknown method %j as invalid_argument", async (method) => {
    const error = await rejection(createCodeChallenge(RFC_VERIFIER, method as CodeChallengeMethod));
    expect(error).toBeInstanceOf(PkceError);
    expect(isPkceError(error, "invalid_argument")).toBe(true);
  });
});

describe("createPkcePair", () => {
  it("defaults to S256 with a 64-character verifier and a 43-character challenge", async () => {
    const pair = await createPkcePair();
    expect(pair.codeChallengeMethod).toBe("S256");
    expect(pair.codeVerifier).toMatch(/^[A-Za-z0-9._~-]{64}$/);
    expect(pair.codeChallenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pair.codeChallenge).toBe(await referenceChallenge(pair.codeVerifier));
    expect(Object.keys(pair).sort()).toEqual(["codeChallenge", "codeChallengeMethod", "codeVerifier"]);
  });

  it.each<{ options: { length?: number; method?: CodeChallengeMethod }; length: number; method: CodeChallengeMethod }>([
    { options: {}, length: 64, method: "S256" },
    { options: { length: 43 }, length: 43, method: "S256" },
    { options: { length: 128 }, length: 128, method: "S256" },
    { options: { method: "S256" }, length: 64, method: "S256" },
    { options: { method: "plain" }, length: 64, method: "plain" },
    { options: { length: 100, method: "plain" }, length: 100, method: "plain" },
  ])("honours the options $options", async ({ options, length, method }) => {
    const pair = await createPkcePair(options);
    expect(pair.codeVerifier).toHaveLength(length);
    expect(pair.codeVerifier).toMatch(/^[A-Za-z0-9._~-]+$/);
    expect(pair.codeChallengeMethod).toBe(method);
    expect(pair.codeChallenge).toBe(method === "plain" ? pair.codeVerifier : await referenceChallenge(pair.codeVerifier));
  });

  it.each<{ what: string; options: unknown }>([
    { what: "length 42", options: { length: 42 } },
    { what: "length 129", options: { length: 129 } },
    { what: "length 50.5", options: { length: 50.5 } },
    { what: "an unknown method", options: { method: "S512" } },
    { what: "a lower-case method", options: { method: "s256" } },
  ])("rejects $what as invalid_argument", async ({ options }) => {
    const error = await rejection(createPkcePair(options as { length: number }));
    expect(error).toBeInstanceOf(PkceError);
    expect(isPkceError(error, "invalid_argument")).toBe(true);
  });

  it("makes a fresh verifier every time", async () => {
    const [a, b] = await Promise.all([createPkcePair(), createPkcePair()]);
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
    expect(a.codeChallenge).not.toBe(b.codeChallenge);
  });
});

describe("without crypto.subtle (insecure context)", () => {
  it("rejects S256 with crypto_unavailable", async () => {
    stubInsecureContext();
    const error = await rejection(createCodeChallenge(RFC_VERIFIER));
    expect(error).toBeInstanceOf(PkceError);
    expect(isPkceError(error, "crypto_unavailable")).toBe(true);
    expect((error as Error).message).not.toContain(RFC_VERIFIER);
  });

  it("never falls back to plain when a pair is made with the default method", async () => {
    stubInsecureContext();
    const error = await rejection(createPkcePair());
    expect(isPkceError(error, "crypto_unavailable")).toBe(true);
    const explicit = await rejection(createPkcePair({ method: "S256" }));
    expect(isPkceError(explicit, "crypto_unavailable")).toBe(true);
  });

  it("still computes plain, which needs no digest", async () => {
    stubInsecureContext();
    await expect(createCodeChallenge(RFC_VERIFIER, "plain")).resolves.toBe(RFC_VERIFIER);
    const pair = await createPkcePair({ method: "plain" });
    expect(pair).toEqual({ codeVerifier: pair.codeVerifier, codeChallenge: pair.codeVerifier, codeChallengeMethod: "plain" });
    expect(pair.codeVerifier).toHaveLength(64);
  });

  it("rejects S256 with crypto_unavailable when crypto is missing altogether", async () => {
    vi.stubGlobal("crypto", undefined);
    expect(isPkceError(await rejection(createCodeChallenge(RFC_VERIFIER)), "crypto_unavailable")).toBe(true);
    expect(isPkceError(await rejection(createPkcePair()), "crypto_unavailable")).toBe(true);
  });
});
