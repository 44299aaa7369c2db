import { describe, expect, expectTypeOf, it } from "vitest";
import { AuthorizationError, PkceError, TokenError, isPkceError } from "../../src/index.ts";
import type { AnyPkceError, FlowSnapshot, PkceErrorCode } from "../../src/index.ts";

describe("error classes", () => {
  it.each([
    { made: () => new PkceError("expired", "The transaction expired."), name: "PkceError", code: "expired", cls: PkceError },
    {
      made: () => new AuthorizationError("access_denied", "The user said no", "https://as.example/doc"),
      name: "AuthorizationError",
      code: "authorization_error",
      cls: AuthorizationError,
    },
    { made: () => new TokenError(400, "invalid_grant", "Code reused"), name: "TokenError", code: "token_error", cls: TokenError },
  ])("$name has a literal name, the code $code and is an Error", ({ made, name, code, cls }) => {
    const error = made();
    expect(error.name).toBe(name);
    expect(Object.hasOwn(error, "name")).toBe(true);
    expect(error.code).toBe(code);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(PkceError);
    expect(error).toBeInstanceOf(cls);
    expect(error.message.length).toBeGreaterThan(0);
    expect(String(error)).toBe(`${name}: ${error.message}`);
  });

  it("keeps the literal name in a subclass instead of using constructor.name", () => {
    class RenamedByMinifier extends PkceError {}
    expect(new RenamedByMinifier("timeout", "Timed out.").name).toBe("PkceError");
  });

  it("keeps a cause passed to PkceError", () => {
    const cause = new TypeError("Failed to fetch");
    const error = new PkceError("network_error", "The request failed.", { cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe("network_error");
  });

  it("gives AuthorizationError the server's error, errorDescription and errorUri as given", () => {
    const error = new AuthorizationError("access_denied", "The user said no", "https://as.example/doc");
    expect(error.error).toBe("access_denied");
    expect(error.errorDescription).toBe("The user said no");
    expect(error.errorUri).toBe("https://as.example/doc");
    expect(error.message).toContain("access_denied");
  });

  it("accepts null errorDescription and errorUri on AuthorizationError", () => {
    const error = new AuthorizationError("server_error", null, null);
    expect(error.errorDescription).toBeNull();
    expect(error.errorUri).toBeNull();
  });

  it("gives TokenError the status, error and errorDescription", () => {
    const error = new TokenError(401, "invalid_client", "Unknown client");
    expect(error.status).toBe(401);
    expect(error.error).toBe("invalid_client");
    expect(error.errorDescription).toBe("Unknown client");
    expect(error.message).toContain("401");
    expect(error.message).toContain("invalid_client");
  });

  it("words a TokenError without an error code by its status only", () => {
    const error = new TokenError(502, null, null);
    expect(error.error).toBeNull();
    expect(error.message).toContain("502");
    expect(error.message).not.toContain("null");
  });

  it.each([
    { what: "markup", error: "<img src=x onerror=alert(1)>" },
    { what: "a long sentence", error: "please visit https://evil.example and type your password" },
    { what: "a newline", error: "access_denied\nInjected: log line" },
  ])("keeps server-chosen $what out of the message", ({ error }) => {
    for (const made of [new AuthorizationError(error, null, null), new TokenError(400, error, null)]) {
      expect(made.message).not.toContain(error);
      expect(made.message).not.toContain("<");
      expect(made.message).not.toContain("\n");
      expect(made.error).toBe(error);
    }
  });
});

describe("isPkceError", () => {
  it.each([
    { what: "a PkceError", value: new PkceError("expired", "m") },
    { what: "an AuthorizationError", value: new AuthorizationError("access_denied", null, null) },
    { what: "a TokenError", value: new TokenError(400, "invalid_grant", null) },
    { what: "a plain PkceError-shaped object from another bundle", value: { name: "PkceError", code: "expired" } },
    { what: "a plain TokenError-shaped object", value: { name: "TokenError", code: "token_error", status: 400 } },
  ])("recognises $what", ({ value }) => {
    expect(isPkceError(value)).toBe(true);
  });

  it.each([
    { what: "a TypeError", value: new TypeError("boom") },
    { what: "an Error with a code", value: Object.assign(new Error("boom"), { code: "expired" }) },
    { what: "null", value: null },
    { what: "undefined", value: undefined },
    { what: "the string PkceError", value: "PkceError" },
    { what: "a number", value: 42 },
    { what: "an object named PkceError without code", value: { name: "PkceError" } },
    { what: "an object with a non-string code", value: { name: "PkceError", code: 5 } },
    { what: "an object with a code but another name", value: { name: "Error", code: "expired" } },
    { what: "an object with a code but no name", value: { code: "expired" } },
    { what: "an AbortError-shaped object", value: { name: "AbortError", code: "aborted" } },
  ])("rejects $what", ({ value }) => {
    expect(isPkceError(value)).toBe(false);
  });

  it.each<{ value: unknown; code: PkceErrorCode; expected: boolean }>([
    { value: new PkceError("expired", "m"), code: "expired", expected: true },
    { value: new PkceError("expired", "m"), code: "timeout", expected: false },
    { value: new AuthorizationError("access_denied", null, null), code: "authorization_error", expected: true },
    { value: new AuthorizationError("access_denied", null, null), code: "invalid_callback", expected: false },
    { value: new TokenError(400, null, null), code: "token_error", expected: true },
    { value: { name: "PkceError", code: "state_mismatch" }, code: "state_mismatch", expected: true },
    { value: { name: "PkceError", code: "state_mismatch" }, code: "state_missing", expected: false },
    { value: new TypeError("x"), code: "network_error", expected: false },
  ])("with the code filter $code answers $expected", ({ value, code, expected }) => {
    expect(isPkceError(value, code)).toBe(expected);
  });

  it("narrows unknown to the union of this library's errors, which narrows again on code", () => {
    const caught: unknown = new AuthorizationError("access_denied", "User said no", null);
    if (!isPkceError(caught)) throw new Error("expected a PkceError");
    expectTypeOf(caught).toEqualTypeOf<AnyPkceError>();
    expectTypeOf(caught).toMatchTypeOf<PkceError>();
    expectTypeOf(caught.code).toEqualTypeOf<PkceErrorCode>();
    if (caught.code !== "authorization_error") throw new Error("expected authorization_error");
    expectTypeOf(caught).toEqualTypeOf<AuthorizationError>();
    expect(caught.errorDescription).toBe("User said no");
  });

  it("types a snapshot's error as the union, so checking code narrows it", () => {
    const error = new TokenError(401, "invalid_client", null) as AnyPkceError;
    const snapshot: FlowSnapshot = { status: "failed", error };
    if (snapshot.error?.code === "token_error") {
      expectTypeOf(snapshot.error).toEqualTypeOf<TokenError>();
      expect(snapshot.error.status).toBe(401);
    } else {
      throw new Error("expected token_error");
    }
    const other: AnyPkceError = new PkceError("expired", "m") as AnyPkceError;
    if (other.code === "expired") expectTypeOf(other).toEqualTypeOf<PkceError & { readonly code: "expired" }>();
  });

  it("narrows to TokenError and AuthorizationError by code, so their fields are typed", () => {
    const token: unknown = new TokenError(403, "invalid_grant", "no");
    if (!isPkceError(token, "token_error")) throw new Error("expected a TokenError");
    expectTypeOf(token).toEqualTypeOf<TokenError>();
    expect([token.status, token.error]).toEqual([403, "invalid_grant"]);
    const denied: unknown = new AuthorizationError("access_denied", "User said no", null);
    if (!isPkceError(denied, "authorization_error")) throw new Error("expected an AuthorizationError");
    expectTypeOf(denied).toEqualTypeOf<AuthorizationError>();
    expect(denied.errorDescription).toBe("User said no");
  });
});
