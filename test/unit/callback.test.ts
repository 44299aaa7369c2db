import { describe, expect, it } from "vitest";
import { AuthorizationError, PkceError, isPkceError, parseCallback } from "../../src/index.ts";
import type { CallbackExpectations, CallbackResult, PkceErrorCode } from "../../src/index.ts";
import { thrown } from "./helpers/errors.ts";

// Sentinels: no error (message, cause, JSON, stack) may ever contain them, in any case.
const CODE = "SentinelCode123";
const STATE = "SentinelState456";
const SECRET_MARK = "sentinel";

const BASE = "https://app.example/cb";
const ISSUER = "https://as.example";
const ISS = encodeURIComponent(ISSUER);
const XSS = "<img src=x onerror=alert(1)>";

function expectNoSecrets(error: unknown): void {
  const e = error as Error;
  for (const text of [e.message, String(e.cause), String(e), e.stack ?? "", JSON.stringify(e)]) {
    expect(text.toLowerCase()).not.toContain(SECRET_MARK);
  }
}

interface Failure {
  name: string;
  url: string | URL;
  expected?: CallbackExpectations;
  code: PkceErrorCode;
}

const CONTROL_AND_NON_ASCII = [
  { what: "a NUL", escape: "%00" },
  { what: "a newline", escape: "%0A" },
  { what: "a carriage return", escape: "%0D" },
  { what: "a tab", escape: "%09" },
  { what: "a DEL", escape: "%7F" },
  { what: "an é", escape: "%C3%A9" },
  { what: "a zero-width space", escape: "%E2%80%8B" },
  { what: "an invalid UTF-8 byte", escape: "%E0" },
];

const FAILURES: Failure[] = [
  // Duplicates and syntax.
  { name: "a repeated code", url: `${BASE}?code=${CODE}&code=${CODE}&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a repeated state", url: `${BASE}?code=${CODE}&state=${STATE}&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a repeated state whose first copy is empty", url: `${BASE}?code=${CODE}&state=&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a repeated code whose first copy is empty", url: `${BASE}?code=&code=${CODE}&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a repeated code with a percent-encoded name", url: `${BASE}?code=${CODE}&%63ode=${CODE}`, code: "invalid_callback" },
  { name: "a repeated iss", url: `${BASE}?code=${CODE}&state=${STATE}&iss=${ISS}&iss=${ISS}`, expected: { state: STATE, issuer: ISSUER }, code: "invalid_callback" },
  { name: "a repeated error", url: `${BASE}?error=access_denied&error=access_denied&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "an empty code", url: `${BASE}?code=&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a callback with neither code nor error", url: `${BASE}?state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a code only in the fragment", url: `${BASE}#code=${CODE}&state=${STATE}`, code: "invalid_callback" },
  { name: "a state only in the fragment (the fragment is never read)", url: `${BASE}#code=${CODE}&state=${STATE}`, expected: { state: STATE }, code: "state_missing" },
  ...["access_token", "id_token", "token", "response"].map((param): Failure => ({
    name: `a leftover ${param} from another flow`,
    url: `${BASE}?code=${CODE}&state=${STATE}&${param}=eyJhbGciOiJub25lIn0`,
    expected: { state: STATE },
    code: "invalid_callback",
  })),
  ...CONTROL_AND_NON_ASCII.map(({ what, escape }): Failure => ({
    name: `${what} in the code`,
    url: `${BASE}?code=${CODE}${escape}&state=${STATE}`,
    expected: { state: STATE },
    code: "invalid_callback",
  })),
  ...CONTROL_AND_NON_ASCII.map(({ what, escape }): Failure => ({
    name: `${what} in the state`,
    url: `${BASE}?code=${CODE}&state=${STATE}${escape}`,
    code: "invalid_callback",
  })),
  { name: "a 1 MB code", url: `${BASE}?code=${CODE}${"a".repeat(1 << 20)}&state=${STATE}`, expected: { state: STATE }, code: "invalid_callback" },
  { name: "a code one character over 8 KiB", url: `${BASE}?code=${CODE}${"a".repeat(8193 - CODE.length)}&state=${STATE}`, code: "invalid_callback" },
  { name: "an unrelated parameter over 8 KiB", url: `${BASE}?code=${CODE}&state=${STATE}&scope=${"s".repeat(8193)}`, code: "invalid_callback" },
  { name: "an error_description over 8 KiB", url: `${BASE}?error=access_denied&error_description=${"d".repeat(8193)}&state=${STATE}`, code: "invalid_callback" },
  { name: "a path-relative URL", url: `/cb?code=${CODE}&state=${STATE}`, code: "invalid_callback" },
  { name: "a query-only URL", url: `?code=${CODE}&state=${STATE}`, code: "invalid_callback" },
  { name: "a scheme-relative URL", url: `//app.example/cb?code=${CODE}&state=${STATE}`, code: "invalid_callback" },
  { name: "a URL without a scheme", url: `app.example/cb?code=${CODE}&state=${STATE}`, code: "invalid_callback" },

  // iss (RFC 9207), checked before state.
  { name: "an iss from another issuer", url: `${BASE}?code=${CODE}&state=${STATE}&iss=https%3A%2F%2Fevil.example`, expected: { state: STATE, issuer: ISSUER }, code: "issuer_mismatch" },
  { name: "an iss with a trailing slash", url: `${BASE}?code=${CODE}&state=${STATE}&iss=${ISS}%2F`, expected: { state: STATE, issuer: ISSUER }, code: "issuer_mismatch" },
  { name: "an iss in another case", url: `${BASE}?code=${CODE}&state=${STATE}&iss=https%3A%2F%2FAS.example`, expected: { state: STATE, issuer: ISSUER }, code: "issuer_mismatch" },
  { name: "no iss while it is required", url: `${BASE}?code=${CODE}&state=${STATE}`, expected: { state: STATE, issuer: ISSUER, requireIssuer: true }, code: "issuer_missing" },
  { name: "an empty iss while it is required", url: `${BASE}?code=${CODE}&state=${STATE}&iss=`, expected: { state: STATE, issuer: ISSUER, requireIssuer: true }, code: "issuer_missing" },
  { name: "no iss while required without a configured issuer", url: `${BASE}?code=${CODE}&state=${STATE}`, expected: { requireIssuer: true }, code: "issuer_missing" },
  { name: "a wrong iss and a wrong state (iss first)", url: `${BASE}?code=${CODE}&state=${STATE}x&iss=https%3A%2F%2Fevil.example`, expected: { state: STATE, issuer: ISSUER }, code: "issuer_mismatch" },
  { name: "a missing iss and a missing state (iss first)", url: `${BASE}?code=${CODE}`, expected: { state: STATE, issuer: ISSUER, requireIssuer: true }, code: "issuer_missing" },
  { name: "an error response from another issuer", url: `${BASE}?error=access_denied&state=${STATE}&iss=https%3A%2F%2Fevil.example`, expected: { state: STATE, issuer: ISSUER }, code: "issuer_mismatch" },

  // state: exact compare after one URL-decoding.
  { name: "no state while one was sent", url: `${BASE}?code=${CODE}`, expected: { state: STATE }, code: "state_missing" },
  { name: "an empty state while one was sent", url: `${BASE}?code=${CODE}&state=`, expected: { state: STATE }, code: "state_missing" },
  { name: "a state with a trailing %20", url: `${BASE}?code=${CODE}&state=${STATE}%20`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "a state with a trailing + (a form-encoded space)", url: `${BASE}?code=${CODE}&state=${STATE}+`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "an upper-cased state", url: `${BASE}?code=${CODE}&state=${STATE.toUpperCase()}`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "a lower-cased state", url: `${BASE}?code=${CODE}&state=${STATE.toLowerCase()}`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "a state missing its last character", url: `${BASE}?code=${CODE}&state=${STATE.slice(0, -1)}`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "a state with one character more", url: `${BASE}?code=${CODE}&state=${STATE}7`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "a state that would match only if decoded twice", url: `${BASE}?code=${CODE}&state=${STATE}%2520`, expected: { state: `${STATE} ` }, code: "state_mismatch" },
  { name: "a state that would match only if not decoded", url: `${BASE}?code=${CODE}&state=${STATE}%20`, expected: { state: `${STATE}%20` }, code: "state_mismatch" },
  { name: "a state although none was sent", url: `${BASE}?code=${CODE}&state=${STATE}`, expected: { state: null }, code: "state_mismatch" },
  { name: "the state __proto__ where constructor was sent", url: `${BASE}?code=${CODE}&state=__proto__`, expected: { state: "constructor" }, code: "state_mismatch" },
  { name: "the state constructor where __proto__ was sent", url: `${BASE}?code=${CODE}&state=constructor`, expected: { state: "__proto__" }, code: "state_mismatch" },
  { name: "the state __proto__ where a random state was sent", url: `${BASE}?code=${CODE}&state=__proto__`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "the state %25E0 compared with its encoded form", url: `${BASE}?code=${CODE}&state=%25E0`, expected: { state: "%25E0" }, code: "state_mismatch" },

  // state before error.
  { name: "an error with a wrong state", url: `${BASE}?error=access_denied&state=${STATE}x`, expected: { state: STATE }, code: "state_mismatch" },
  { name: "an error without the state that was sent", url: `${BASE}?error=access_denied&error_description=${STATE}`, expected: { state: STATE }, code: "state_missing" },
  { name: "an error with a state although none was sent", url: `${BASE}?error=access_denied&state=${STATE}`, expected: { state: null }, code: "state_mismatch" },
  { name: "a code and an error with a wrong state", url: `${BASE}?code=${CODE}&error=access_denied&state=${STATE}x`, expected: { state: STATE }, code: "state_mismatch" },
];

interface Success {
  name: string;
  url: string | URL;
  expected?: CallbackExpectations;
  result: CallbackResult;
}

const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
const LONGEST_CODE = CODE + "a".repeat(8192 - CODE.length);

const SUCCESSES: Success[] = [
  { name: "a code with the state that was sent", url: `${BASE}?code=${CODE}&state=${STATE}`, expected: { state: STATE }, result: { code: CODE, state: STATE, iss: null } },
  { name: "a URL object", url: new URL(`${BASE}?code=${CODE}&state=${STATE}`), expected: { state: STATE }, result: { code: CODE, state: STATE, iss: null } },
  { name: "any state when no expectation is given", url: `${BASE}?code=${CODE}&state=whatever`, result: { code: CODE, state: "whatever", iss: null } },
  { name: "any state when expected.state is undefined", url: `${BASE}?code=${CODE}&state=whatever`, expected: { issuer: ISSUER }, result: { code: CODE, state: "whatever", iss: null } },
  { name: "no state when none was sent", url: `${BASE}?code=${CODE}`, expected: { state: null }, result: { code: CODE, state: null, iss: null } },
  { name: "an empty state when none was sent", url: `${BASE}?code=${CODE}&state=`, expected: { state: null }, result: { code: CODE, state: null, iss: null } },
  { name: "no state and no expectation", url: `${BASE}?code=${CODE}`, result: { code: CODE, state: null, iss: null } },
  { name: "the expected iss", url: `${BASE}?code=${CODE}&state=${STATE}&iss=${ISS}`, expected: { state: STATE, issuer: ISSUER, requireIssuer: true }, result: { code: CODE, state: STATE, iss: ISSUER } },
  { name: "an iss when no issuer is configured", url: `${BASE}?code=${CODE}&iss=${ISS}`, result: { code: CODE, state: null, iss: ISSUER } },
  { name: "no iss when an issuer is configured but not required", url: `${BASE}?code=${CODE}`, expected: { issuer: ISSUER }, result: { code: CODE, state: null, iss: null } },
  { name: "an empty iss as absent", url: `${BASE}?code=${CODE}&iss=`, expected: { issuer: ISSUER }, result: { code: CODE, state: null, iss: null } },
  { name: "a query plus a fragment, reading the query", url: `${BASE}?code=${CODE}&state=${STATE}#code=other&state=other&error=access_denied`, expected: { state: STATE }, result: { code: CODE, state: STATE, iss: null } },
  { name: "unrelated parameters such as scope and session_state", url: `${BASE}?scope=openid&code=${CODE}&session_state=abc.def&state=${STATE}&lang=fr`, expected: { state: STATE }, result: { code: CODE, state: STATE, iss: null } },
  { name: "an empty error next to a code", url: `${BASE}?code=${CODE}&error=&state=${STATE}`, expected: { state: STATE }, result: { code: CODE, state: STATE, iss: null } },
  { name: "the state __proto__ when it was sent", url: `${BASE}?code=${CODE}&state=__proto__`, expected: { state: "__proto__" }, result: { code: CODE, state: "__proto__", iss: null } },
  { name: "the state constructor when it was sent", url: `${BASE}?code=${CODE}&state=constructor`, expected: { state: "constructor" }, result: { code: CODE, state: "constructor", iss: null } },
  { name: "the literal state %E0 from %25E0", url: `${BASE}?code=${CODE}&state=%25E0`, expected: { state: "%E0" }, result: { code: CODE, state: "%E0", iss: null } },
  { name: "a state decoded once from %2520", url: `${BASE}?code=${CODE}&state=${STATE}%2520`, expected: { state: `${STATE}%20` }, result: { code: CODE, state: `${STATE}%20`, iss: null } },
  { name: "a state with a space from %20", url: `${BASE}?code=${CODE}&state=${STATE}%20`, expected: { state: `${STATE} ` }, result: { code: CODE, state: `${STATE} `, iss: null } },
  { name: "a state with a space from +", url: `${BASE}?code=${CODE}&state=${STATE}+`, expected: { state: `${STATE} ` }, result: { code: CODE, state: `${STATE} `, iss: null } },
  { name: "a lone percent sign in the code", url: `${BASE}?code=${CODE}%&state=${STATE}`, expected: { state: STATE }, result: { code: `${CODE}%`, state: STATE, iss: null } },
  { name: "a code of every printable ASCII character", url: `${BASE}?code=${encodeURIComponent(PRINTABLE_ASCII)}`, result: { code: PRINTABLE_ASCII, state: null, iss: null } },
  { name: "a code of exactly 8 KiB", url: `${BASE}?code=${LONGEST_CODE}&state=${STATE}`, expected: { state: STATE }, result: { code: LONGEST_CODE, state: STATE, iss: null } },
];

describe("parseCallback rejects", () => {
  it.each(FAILURES.map((row) => [`${row.name} with ${row.code}`, row] as const))("%s, revealing neither code nor state", (_, { url, expected, code }) => {
    expect(String(url).toLowerCase()).toContain(SECRET_MARK); // the row carries a secret to leak
    const error = thrown(() => parseCallback(url, expected));
    expect(error).toBeInstanceOf(PkceError);
    expect(error).not.toBeInstanceOf(AuthorizationError);
    expect((error as PkceError).name).toBe("PkceError");
    expect(isPkceError(error, code)).toBe(true);
    expectNoSecrets(error);
  });

  it("rejects a 1 MB code in well under a second", () => {
    const url = `${BASE}?code=${"a".repeat(1 << 20)}`;
    const started = performance.now();
    expect(isPkceError(thrown(() => parseCallback(url)), "invalid_callback")).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("throws a PkceError, not a URIError, for a malformed percent escape in the state", () => {
    const error = thrown(() => parseCallback(`${BASE}?code=${CODE}&state=%E0%A4%A`, { state: STATE }));
    expect(error).not.toBeInstanceOf(URIError);
    expect(isPkceError(error, "invalid_callback")).toBe(true);
  });
});

describe("parseCallback accepts", () => {
  it.each(SUCCESSES.map((row) => [row.name, row] as const))("%s", (_, { url, expected, result }) => {
    const parsed = parseCallback(url, expected);
    expect(parsed).toEqual(result);
    expect(Object.keys(parsed).sort()).toEqual(["code", "iss", "state"]);
  });

  it("treats __proto__, constructor and toString parameters as ordinary values without polluting prototypes", () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const result = parseCallback(
      `${BASE}?__proto__=polluted&constructor=x&toString=y&hasOwnProperty=z&__proto__%5Bpolluted%5D=1&code=${CODE}&state=__proto__`,
      { state: "__proto__" },
    );
    expect(result).toEqual({ code: CODE, state: "__proto__", iss: null });
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect(typeof ({}).toString).toBe("function");
  });
});

describe("parseCallback with an error response", () => {
  interface Refusal {
    name: string;
    url: string;
    expected?: CallbackExpectations;
    error: string;
    errorDescription: string | null;
    errorUri: string | null;
  }
  const long = (c: string) => c.repeat(2000);
  const REFUSALS: Refusal[] = [
    {
      name: "access_denied with a description and a URI",
      url: `${BASE}?error=access_denied&error_description=The+user+said+no&error_uri=https%3A%2F%2Fas.example%2Fdocs%2Ferrors&state=${STATE}`,
      expected: { state: STATE },
      error: "access_denied",
      errorDescription: "The user said no",
      errorUri: "https://as.example/docs/errors",
    },
    {
      name: "an error next to a code (the error wins, the code is dropped)",
      url: `${BASE}?code=${CODE}&error=access_denied&state=${STATE}`,
      expected: { state: STATE },
      error: "access_denied",
      errorDescription: null,
      errorUri: null,
    },
    {
      name: "an error without state when none was sent",
      url: `${BASE}?error=temporarily_unavailable&code=${CODE}`,
      expected: { state: null },
      error: "temporarily_unavailable",
      errorDescription: null,
      errorUri: null,
    },
    {
      name: "an error with the expected iss",
      url: `${BASE}?error=invalid_scope&iss=${ISS}&state=${STATE}`,
      expected: { state: STATE, issuer: ISSUER, requireIssuer: true },
      error: "invalid_scope",
      errorDescription: null,
      errorUri: null,
    },
    {
      name: "fields of 2,000 characters, capped at 1,000",
      url: `${BASE}?error=${long("e")}&error_description=${long("d")}&error_uri=https://as.example/${long("u")}&state=${STATE}`,
      expected: { state: STATE },
      error: "e".repeat(1000),
      errorDescription: "d".repeat(1000),
      errorUri: `https://as.example/${"u".repeat(1000 - 19)}`,
    },
    ...[
      ["an http error_uri", "http://as.example/e", "http://as.example/e"],
      ["a javascript: error_uri", "javascript:alert(document.domain)", null],
      ["a JavaScript: error_uri in mixed case with leading space", " JavaScript:alert(1)", null],
      ["a data: error_uri", "data:text/html,<script>alert(1)</script>", null],
      ["a relative error_uri", "/docs/errors", null],
      ["a protocol-relative error_uri", "//evil.example/x", null],
      ["a vbscript: error_uri", "vbscript:msgbox(1)", null],
      ["a file: error_uri", "file:///etc/passwd", null],
    ].map(([what, uri, kept]) => ({
      name: what!,
      url: `${BASE}?error=access_denied&error_uri=${encodeURIComponent(uri!)}&state=${STATE}`,
      expected: { state: STATE },
      error: "access_denied",
      errorDescription: null,
      errorUri: kept ?? null,
    })),
    {
      name: "fields of exactly 1,000 characters, kept whole",
      url: `${BASE}?error=${"e".repeat(1000)}&error_description=${"d".repeat(1000)}&state=${STATE}`,
      expected: { state: STATE },
      error: "e".repeat(1000),
      errorDescription: "d".repeat(1000),
      errorUri: null,
    },
    {
      name: "markup in error_description, kept as an identical inert string",
      url: `${BASE}?error=access_denied&error_description=${encodeURIComponent(XSS)}&state=${STATE}`,
      expected: { state: STATE },
      error: "access_denied",
      errorDescription: XSS,
      errorUri: null,
    },
  ];

  it.each(REFUSALS.map((row) => [row.name, row] as const))("throws AuthorizationError for %s", (_, { url, expected, error, errorDescription, errorUri }) => {
    const refusal = thrown(() => parseCallback(url, expected));
    expect(refusal).toBeInstanceOf(AuthorizationError);
    expect(refusal).toBeInstanceOf(PkceError);
    expect(refusal).toBeInstanceOf(Error);
    expect(isPkceError(refusal, "authorization_error")).toBe(true);
    const e = refusal as AuthorizationError;
    expect(e.name).toBe("AuthorizationError");
    expect(e.error).toBe(error);
    expect(e.errorDescription).toBe(errorDescription);
    expect(e.errorUri).toBe(errorUri);
    expect(Object.values(e).every((v) => v === null || typeof v === "string")).toBe(true);
    expectNoSecrets(refusal);
  });

  it("keeps markup in error_description out of the message and the document", () => {
    const images = document.querySelectorAll("img").length;
    const e = thrown(() => parseCallback(`${BASE}?error=${encodeURIComponent(XSS)}&error_description=${encodeURIComponent(XSS)}`)) as AuthorizationError;
    expect(e.errorDescription).toBe(XSS);
    expect(e.error).toBe(XSS);
    expect(e.message).not.toContain("<");
    expect(document.querySelectorAll("img").length).toBe(images);
  });
});
