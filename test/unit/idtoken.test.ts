import { afterEach, describe, expect, it, vi } from "vitest";
import { checkIdToken, deepFreeze, type IdTokenExpectations } from "../../src/idtoken.ts";
import { thrown } from "./helpers/errors.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const NONCE = "n-0S6_WzA2Mj";
const EXPECTED: IdTokenExpectations = { issuer: "https://as.example", clientId: "my-spa", nonce: NONCE };
// A fixed clock, so the skew edges are exact.
const NOW = 1_900_000_000;

afterEach(() => vi.restoreAllMocks());

function at(now: number) {
  vi.spyOn(Date, "now").mockReturnValue(now * 1000);
}

function refused(token: string, expected: IdTokenExpectations = EXPECTED) {
  const error = thrown(() => checkIdToken(token, expected));
  expect(error.code).toBe("invalid_id_token");
  // Nothing of the token in the error: not the whole, not the payload part, not the nonce.
  for (const secret of [token, token.split(".")[1] ?? token, NONCE].filter(Boolean)) {
    expect(error.message).not.toContain(secret);
    expect(String(error.stack)).not.toContain(secret);
    expect(error.cause).toBeUndefined();
  }
  return error;
}

describe("checkIdToken", () => {
  it("accepts valid claims and returns the payload, frozen", () => {
    const payload = goodClaims({ name: "Alice", address: { country: "NZ" } });
    const claims = checkIdToken(jwt(payload), EXPECTED);
    expect(claims).toEqual(payload);
    expect(Object.isFrozen(claims)).toBe(true);
    expect(Object.isFrozen(claims["address"])).toBe(true);
  });

  it.each<[string, Record<string, unknown>, Partial<IdTokenExpectations>?]>([
    ["a wrong iss", { iss: "https://evil.example" }],
    ["an iss with a trailing slash", { iss: "https://as.example/" }],
    ["no iss", { iss: undefined }],
    ["no sub", { sub: undefined }],
    ["an empty sub", { sub: "" }],
    ["an aud that is another client", { aud: "other" }],
    ["an aud list without the client", { aud: ["other", "third"] }],
    ["no aud", { aud: undefined }],
    ["several aud without azp", { aud: ["my-spa", "api"] }],
    ["several aud with another azp", { aud: ["my-spa", "api"], azp: "api" }],
    ["a wrong azp with one aud", { azp: "other" }],
    ["an expired exp", { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ["no exp", { exp: undefined }],
    ["an exp that is a string", { exp: String(Math.floor(Date.now() / 1000) + 600) }],
    ["a negative exp", { exp: -1 }],
    ["no iat", { iat: undefined }],
    ["an iat that is a string", { iat: "now" }],
    ["a wrong nonce", { nonce: "other-nonce" }],
    ["no nonce", { nonce: undefined }],
    ["a nonce that is a number", { nonce: 1 }],
    ["a nonce when none was sent", {}, { nonce: null }],
    ["a sub other than the earlier one", {}, { nonce: undefined, sub: "bob" }],
  ])("refuses %s", (_, overrides, expected = {}) => {
    refused(jwt(goodClaims(overrides)), { ...EXPECTED, ...expected });
  });

  it.each<[string, Record<string, unknown>, Partial<IdTokenExpectations>?]>([
    ["an aud list that contains the client, with azp", { aud: ["my-spa", "api"], azp: "my-spa" }],
    ["a one-element aud list", { aud: ["my-spa"] }],
    ["azp equal to the client", { azp: "my-spa" }],
    ["no nonce when none was sent", { nonce: undefined }, { nonce: null }],
    ["any nonce on refresh (not checked)", { nonce: "whatever" }, { nonce: undefined }],
    ["the earlier sub on refresh", {}, { nonce: undefined, sub: "alice" }],
  ])("accepts %s", (_, overrides, expected = {}) => {
    expect(checkIdToken(jwt(goodClaims(overrides)), { ...EXPECTED, ...expected })["sub"]).toBe("alice");
  });

  it.each([
    { exp: NOW - 59, ok: true },
    { exp: NOW - 60, ok: false },
    { exp: NOW - 61, ok: false },
    { exp: NOW + 1, ok: true },
  ])("allows 60 s of clock skew on exp: exp = now $exp (ok: $ok)", ({ exp, ok }) => {
    at(NOW);
    const token = jwt(goodClaims({ exp, iat: NOW - 3600 }));
    if (ok) expect(checkIdToken(token, EXPECTED)["exp"]).toBe(exp);
    else expect(refused(token).message).toMatch(/exp/);
  });

  it.each([
    ["two parts", (t: string) => t.split(".").slice(0, 2).join(".")],
    ["four parts", (t: string) => `${t}.x`],
    ["a JWE (five parts)", (t: string) => `${t}.x.y`],
    ["an empty payload part", (t: string) => t.replace(/\.[^.]+\./, "..")],
    ["a payload with characters outside base64url", (t: string) => t.replace(/\.[^.]+\./, ".eyJ+In0=.")],
    ["a padded payload", (t: string) => t.replace(/\.([^.]+)\./, ".$1=.")],
    ["an empty string", () => ""],
  ])("refuses a malformed JWS: %s", (_, mangle) => {
    refused(mangle(jwt(goodClaims())));
  });

  it.each([
    ["a payload that is no JSON", jwt("not json", { raw: true })],
    ["a JSON array payload", jwt([1, 2])],
    ["a JSON string payload", jwt("just a string")],
    ["a header that is no JSON", jwt(goodClaims(), { header: undefined }).replace(/^[^.]+/, "bm90IGpzb24")],
    ["a payload that is not UTF-8", `${jwt(goodClaims()).split(".")[0]}.${btoa("\xff\xfe{}").replace(/=+$/, "")}.sig`],
  ])("refuses %s", (_, token) => {
    refused(token);
  });

  it("does not verify the signature: alg none with an empty signature passes the claim checks (documented in SECURITY.md)", () => {
    const token = jwt(goodClaims(), { header: { alg: "none" }, signature: "" });
    expect(token.endsWith(".")).toBe(true);
    expect(checkIdToken(token, EXPECTED)["sub"]).toBe("alice");
    // The claims are still checked for such a token.
    refused(jwt(goodClaims({ aud: "other" }), { header: { alg: "none" }, signature: "" }));
  });

  it.each([
    ["1e400 (JSON.parse gives Infinity)", "1e400"],
    ["-1e400", "-1e400"],
  ])("refuses an exp of %s, which would never expire", (_, exp) => {
    const raw = JSON.stringify(goodClaims()).replace(/"exp":\d+/, `"exp":${exp}`);
    expect(raw).toContain(`"exp":${exp}`);
    expect(refused(jwt(raw, { raw: true })).message).toMatch(/exp/);
  });

  it("refuses an iat of 1e400", () => {
    const raw = JSON.stringify(goodClaims()).replace(/"iat":\d+/, '"iat":1e400');
    expect(raw).toContain('"iat":1e400');
    expect(refused(jwt(raw, { raw: true })).message).toMatch(/iat/);
  });

  it("accepts and freezes a claim holding an array of 300,000 elements (a payload under 1 MiB)", () => {
    const token = jwt(goodClaims({ groups: new Array(300_000).fill(0) }));
    expect(token.length).toBeLessThan(1_048_576);
    const claims = checkIdToken(token, EXPECTED);
    expect((claims["groups"] as unknown[]).length).toBe(300_000);
    expect(Object.isFrozen(claims["groups"])).toBe(true);
  });

  it("keeps a __proto__ claim as an own property, leaves prototypes alone, and freezes nested values", () => {
    const raw = JSON.stringify(goodClaims({ nested: { deep: [1] } })).replace(/^\{/, '{"__proto__":{"polluted":true},');
    const claims = checkIdToken(jwt(raw, { raw: true }), EXPECTED);
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
    expect(Object.hasOwn(claims, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(Object.isFrozen((claims["nested"] as { deep: unknown[] }).deep)).toBe(true);
  });

  it("names the rule but never the claim values it compared", () => {
    const error = refused(jwt(goodClaims({ nonce: "attacker-nonce-value" })));
    expect(error.message).toMatch(/nonce/);
    expect(error.message).not.toContain("attacker-nonce-value");
  });
});

describe("deepFreeze", () => {
  it("freezes nested objects and arrays and returns the same value", () => {
    const value = { a: { b: [1, { c: 2 }] } };
    expect(deepFreeze(value)).toBe(value);
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
  });

  it("freezes an array of 500,000 objects, too many to spread into one call", () => {
    const wide = JSON.parse(`[${new Array(500_000).fill("{}").join(",")}]`) as object[];
    expect(deepFreeze(wide)).toBe(wide);
    expect(Object.isFrozen(wide)).toBe(true);
    expect(Object.isFrozen(wide[0])).toBe(true);
    expect(Object.isFrozen(wide[499_999])).toBe(true);
  });

  it("freezes JSON nested 100,000 deep without overflowing the stack", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`) as unknown[];
    expect(deepFreeze(deep)).toBe(deep);
    let inner: unknown = deep;
    for (let i = 0; i < 99_999; i++) inner = (inner as unknown[])[0];
    expect(Object.isFrozen(inner)).toBe(true);
  });
});
