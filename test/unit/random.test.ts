import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, generateCodeVerifier, generateState, isPkceError } from "../../src/index.ts";
import { thrown } from "./helpers/errors.ts";

// RFC 7636 4.1 unreserved characters, written out independently of src/random.ts.
const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Upper tail of the chi-square distribution with 65 degrees of freedom at p = 1e-6
// (scipy.stats.chi2.isf(1e-6, 65) = 134.202). A fair generator exceeds it once in a million runs.
const CHI2_CRITICAL_DF65_P1E6 = 134.202;

/** Pearson's chi-square statistic of the character counts of `sample` against a uniform alphabet. */
function chiSquare(sample: string, alphabet: string): number {
  const counts = new Map<string, number>([...alphabet].map((c) => [c, 0]));
  for (const c of sample) {
    const seen = counts.get(c);
    if (seen === undefined) return Number.POSITIVE_INFINITY; // a character outside the alphabet
    counts.set(c, seen + 1);
  }
  const expected = sample.length / alphabet.length;
  let statistic = 0;
  for (const observed of counts.values()) statistic += (observed - expected) ** 2 / expected;
  return statistic;
}

/** The uniformity test used below: true when no bias shows at p = 1e-6. */
function looksUniform(generate: () => string, calls: number): boolean {
  let sample = "";
  for (let i = 0; i < calls; i++) sample += generate();
  return chiSquare(sample, UNRESERVED) < CHI2_CRITICAL_DF65_P1E6;
}

/** The naive generator the library must not be: `byte % 66` without rejecting high bytes. */
function moduloBiasedVerifier(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += UNRESERVED[b % UNRESERVED.length];
  return out;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("generateCodeVerifier", () => {
  it("makes 10,000 distinct 64-character verifiers from the unreserved set", () => {
    const verifiers = Array.from({ length: 10_000 }, () => generateCodeVerifier());
    expect(verifiers.filter((v) => !/^[A-Za-z0-9._~-]{64}$/.test(v))).toEqual([]);
    expect(new Set(verifiers).size).toBe(10_000);
  });

  it.each([43, 100, 128])("makes a verifier of length %d", (length) => {
    const verifier = generateCodeVerifier(length);
    expect(verifier).toHaveLength(length);
    expect(verifier).toMatch(/^[A-Za-z0-9._~-]+$/);
  });

  it.each<{ what: string; length: unknown }>([
    { what: "42", length: 42 },
    { what: "129", length: 129 },
    { what: "0", length: 0 },
    { what: "-64", length: -64 },
    { what: "50.5", length: 50.5 },
    { what: "NaN", length: Number.NaN },
    { what: "Infinity", length: Number.POSITIVE_INFINITY },
    { what: 'the string "64"', length: "64" },
    { what: "null", length: null },
  ])("rejects the length $what with invalid_argument", ({ length }) => {
    const error = thrown(() => generateCodeVerifier(length as number));
    expect(error).toBeInstanceOf(PkceError);
    expect(isPkceError(error, "invalid_argument")).toBe(true);
  });

  it("shows no character bias in 640,000 characters (chi-square, p = 1e-6)", () => {
    expect(looksUniform(() => generateCodeVerifier(64), 10_000)).toBe(true);
  });

  it("has a uniformity test that catches a modulo-biased generator of the same size", () => {
    // byte % 66 favours the first 58 characters 4:3; at this sample size the statistic lands
    // around 4,600 against a critical value of 134, so this never passes by chance.
    expect(looksUniform(() => moduloBiasedVerifier(64), 10_000)).toBe(false);
  });

  it("has a uniformity test that catches characters outside the alphabet", () => {
    expect(looksUniform(() => generateCodeVerifier(64).replace(/~/g, "+"), 100)).toBe(false);
  });

  it("reaches every character from the same number of byte values and drops the rest (no modulo bias)", () => {
    const FILLER = 1; // a byte any mapping keeps, for the second round
    const preimages = new Map<string, number[]>();
    const dropped: number[] = [];
    for (let byte = 0; byte < 256; byte++) {
      let rounds = 0;
      vi.stubGlobal("crypto", {
        getRandomValues: (array: Uint8Array) => array.fill(rounds++ === 0 ? byte : FILLER),
      });
      const verifier = generateCodeVerifier(43);
      expect(new Set(verifier).size).toBe(1);
      if (rounds === 1) preimages.set(verifier[0]!, [...(preimages.get(verifier[0]!) ?? []), byte]);
      else dropped.push(byte);
    }
    expect([...preimages.keys()].sort()).toEqual([...UNRESERVED].sort());
    const perCharacter = new Set([...preimages.values()].map((bytes) => bytes.length));
    expect(perCharacter.size).toBe(1); // every character equally likely
    expect(dropped).toHaveLength(256 - 66 * [...perCharacter][0]!);
  });

  it.each<{ what: string; crypto: unknown }>([
    { what: "crypto is missing", crypto: undefined },
    { what: "crypto has no getRandomValues", crypto: {} },
  ])("fails with crypto_unavailable when $what", ({ crypto }) => {
    vi.stubGlobal("crypto", crypto);
    expect(isPkceError(thrown(() => generateCodeVerifier()), "crypto_unavailable")).toBe(true);
    expect(isPkceError(thrown(() => generateState()), "crypto_unavailable")).toBe(true);
  });
});

describe("generateState", () => {
  it("makes 10,000 distinct base64url states of at least 22 characters", () => {
    const states = Array.from({ length: 10_000 }, () => generateState());
    expect(states.filter((s) => !/^[A-Za-z0-9_-]{22,}$/.test(s))).toEqual([]);
    expect(new Set(states).size).toBe(10_000);
  });

  it("draws at least 128 random bits from crypto.getRandomValues", () => {
    const real = globalThis.crypto;
    let bytes = 0;
    vi.stubGlobal("crypto", {
      getRandomValues: (array: Uint8Array<ArrayBuffer>) => {
        bytes += array.byteLength;
        return real.getRandomValues(array);
      },
    });
    const state = generateState();
    expect(bytes).toBeGreaterThanOrEqual(16);
    // Each base64url character carries 6 bits.
    expect(state.length * 6).toBeGreaterThanOrEqual(128);
  });

  it("uses the whole base64url alphabet without padding", () => {
    let sample = "";
    for (let i = 0; i < 2_000; i++) sample += generateState();
    expect(new Set(sample)).toEqual(new Set(BASE64URL));
  });

  it("encodes the random bytes as base64url, turning + and / into - and _", () => {
    // 0xfb 0xff 0xbf is "+/+/" in standard base64.
    const pattern = [0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83];
    let drawn = 0;
    vi.stubGlobal("crypto", {
      getRandomValues: (array: Uint8Array) => {
        drawn = array.length;
        for (let i = 0; i < array.length; i++) array[i] = pattern[i % pattern.length]!;
        return array;
      },
    });
    const state = generateState();
    const bytes = Array.from({ length: drawn }, (_, i) => pattern[i % pattern.length]!);
    const standard = btoa(String.fromCharCode(...bytes));
    expect(standard).toMatch(/[+/]/);
    expect(state).toBe(standard.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
  });
});
