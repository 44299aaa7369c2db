import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError, TokenError, createFlow, oauth2, openRouter, refresh, userinfo } from "../../src/index.ts";
import { field, readJson, sendRequest, type SendOptions } from "../../src/request.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, hang, json, never, text } from "./helpers/fetch.ts";
import { MemoryStorage } from "./helpers/storage.ts";

const TOKEN_URL = "https://as.example/token";
const CODE = "Code-SENTINEL-5d2c81";
const VERIFIER = "Verifier-SENTINEL-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const STATE = "State-SENTINEL-0c6f1e";
const SECRETS = [CODE, VERIFIER, STATE];

function tokenRequest(): Request {
  return new Request(TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: CODE }),
  });
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("sendRequest", () => {
  it("sends once without redirects, cookies, cache or referrer, under its own abort signal", async () => {
    const recorder = fetchRecorder(() => json(200, { ok: true }));
    await sendRequest(tokenRequest(), { fetch: recorder.fetch });
    expect(recorder.calls).toHaveLength(1);
    const { request, init, signal } = recorder.calls[0]!;
    expect(init).toMatchObject({ redirect: "manual", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    expect(init?.signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
    expect(request.redirect).toBe("manual");
    expect(request.credentials).toBe("omit");
    expect(request.referrerPolicy).toBe("no-referrer");
  });

  it("sends the built request's method, URL, headers and body unchanged", async () => {
    const recorder = fetchRecorder(() => json(200, { ok: true }));
    await sendRequest(tokenRequest(), { fetch: recorder.fetch });
    const { request, body } = recorder.calls[0]!;
    expect(request.method).toBe("POST");
    expect(request.url).toBe(TOKEN_URL);
    expect(request.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(request.headers.get("accept")).toBe("application/json");
    expect(await body).toBe(`grant_type=authorization_code&code=${CODE}`);
  });

  it.each([200, 201, 203])("resolves the JSON object of a %i answer", async (status) => {
    const recorder = fetchRecorder(() => json(status, { access_token: "at", n: 1 }));
    await expect(sendRequest(tokenRequest(), { fetch: recorder.fetch })).resolves.toEqual({ access_token: "at", n: 1 });
  });

  it("uses globalThis.fetch when no fetch is given", async () => {
    const recorder = fetchRecorder(() => json(200, { from: "global" }));
    vi.stubGlobal("fetch", recorder.fetch);
    await expect(sendRequest(tokenRequest())).resolves.toEqual({ from: "global" });
    expect(recorder.calls).toHaveLength(1);
  });

  it("times out after 30000 ms by default", async () => {
    vi.useFakeTimers();
    const recorder = fetchRecorder((call) => hang(call.signal));
    let settled = false;
    const result = rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch }));
    void result.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await result;
    expect(error.code).toBe("timeout");
    expect(error.message).toContain("30000 ms");
    expect(recorder.calls[0]!.signal.aborted).toBe(true);
    expect(recorder.calls).toHaveLength(1);
  });

  it.each([
    ["honours its signal", (call: { signal: AbortSignal }) => hang(call.signal)],
    ["ignores its signal", () => never()],
  ])("times out after timeoutMs when the fetch %s", async (_, respond) => {
    const recorder = fetchRecorder(respond);
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, timeoutMs: 5 }));
    expect(error.code).toBe("timeout");
    expect(recorder.calls).toHaveLength(1);
  });

  it("times out while the body is still arriving", async () => {
    const stalled = new ReadableStream<Uint8Array>({ start: () => {} });
    const recorder = fetchRecorder(() => new Response(stalled, { status: 200 }));
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, timeoutMs: 5 }));
    expect(error.code).toBe("timeout");
  });

  it("clears its timer once answered", async () => {
    vi.useFakeTimers();
    const recorder = fetchRecorder(() => json(200, {}));
    await sendRequest(tokenRequest(), { fetch: recorder.fetch });
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each<[string, SendOptions, string]>([
    ["timeoutMs Infinity", { timeoutMs: Number.POSITIVE_INFINITY }, "timeoutMs"],
    ["timeoutMs 0", { timeoutMs: 0 }, "timeoutMs"],
    ["timeoutMs -1", { timeoutMs: -1 }, "timeoutMs"],
    ["timeoutMs NaN", { timeoutMs: Number.NaN }, "timeoutMs"],
    ["timeoutMs 2^31", { timeoutMs: 2 ** 31 }, "timeoutMs"],
    ["timeoutMs as a string", { timeoutMs: "5000" as unknown as number }, "timeoutMs"],
    ["a signal that is a plain object", { signal: {} as AbortSignal }, "AbortSignal"],
    ["a signal that is an object with the listener methods", { signal: { aborted: false, addEventListener() {}, removeEventListener() {} } as unknown as AbortSignal }, "AbortSignal"],
    ["a signal that is a string", { signal: "abort" as unknown as AbortSignal }, "AbortSignal"],
  ])("refuses %s with invalid_argument before sending, leaving no timer", async (_, options, named) => {
    vi.useFakeTimers();
    const recorder = fetchRecorder(() => json(200, {}));
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, ...options }));
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toContain(named);
    expect(recorder.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("accepts timeoutMs 2^31 - 1, the longest timer a browser keeps", async () => {
    vi.useFakeTimers();
    const recorder = fetchRecorder((call) => hang(call.signal));
    let settled = false;
    const result = rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, timeoutMs: 2 ** 31 - 1 }));
    void result.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(2 ** 31 - 2);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await result).code).toBe("timeout");
  });

  it("takes null options, and a null signal, as none (as fetch does)", async () => {
    const recorder = fetchRecorder(() => json(200, { from: "global" }));
    vi.stubGlobal("fetch", recorder.fetch);
    await expect(sendRequest(tokenRequest(), null)).resolves.toEqual({ from: "global" });
    await expect(sendRequest(tokenRequest(), { signal: null })).resolves.toEqual({ from: "global" });
    expect(recorder.calls).toHaveLength(2);
  });

  it("rejects with aborted when the caller's signal aborts mid-flight", async () => {
    const controller = new AbortController();
    const recorder = fetchRecorder((call) => {
      queueMicrotask(() => controller.abort());
      return hang(call.signal);
    });
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, signal: controller.signal }));
    expect(error.code).toBe("aborted");
    expect(recorder.calls[0]!.signal.aborted).toBe(true);
  });

  it("rejects with aborted without calling fetch when the signal is already aborted", async () => {
    const recorder = fetchRecorder();
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch, signal: AbortSignal.abort() }));
    expect(error.code).toBe("aborted");
    expect(recorder.calls).toHaveLength(0);
  });

  it("leaves a finished request alone when the caller's signal aborts afterwards", async () => {
    const controller = new AbortController();
    const recorder = fetchRecorder(() => json(200, {}));
    await sendRequest(tokenRequest(), { fetch: recorder.fetch, signal: controller.signal });
    controller.abort();
    expect(recorder.calls[0]!.signal.aborted).toBe(false);
  });

  it.each([
    ["rejects", () => Promise.reject(new TypeError(`Failed to fetch ${CODE} with ${VERIFIER} for ${STATE}`))],
    [
      "throws synchronously",
      () => {
        throw new TypeError(`Failed to fetch ${CODE} with ${VERIFIER} for ${STATE}`);
      },
    ],
  ])("reports a fetch that %s as network_error with a cleaned copy of the cause", async (_, respond) => {
    const recorder = fetchRecorder(respond);
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch }, SECRETS));
    expect(error.code).toBe("network_error");
    const cause = error.cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect(cause.name).toBe("TypeError");
    expect(cause.message).toBe("Failed to fetch [redacted] with [redacted] for [redacted]");
    for (const secret of SECRETS) {
      expect(error.message).not.toContain(secret);
      expect(String(cause)).not.toContain(secret);
    }
  });

  it("keeps no cause for a fetch that rejects with a non-Error", async () => {
    const recorder = fetchRecorder(() => Promise.reject(`raw ${CODE}`));
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch }, SECRETS));
    expect(error.code).toBe("network_error");
    expect(error.cause).toBeUndefined();
  });

  it("turns a non-2xx answer into a TokenError with the secrets blanked", async () => {
    const recorder = fetchRecorder(() => json(400, { error: "invalid_grant", error_description: `code ${CODE} and verifier ${VERIFIER}` }));
    const error = await rejection(sendRequest(tokenRequest(), { fetch: recorder.fetch }, SECRETS));
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).errorDescription).toBe("code [redacted] and verifier [redacted]");
  });
});

describe("readJson", () => {
  it.each([301, 302, 303, 307, 308])("rejects a %i redirect with invalid_response", async (status) => {
    const response = new Response(null, { status, headers: { Location: "https://evil.example/" } });
    const error = await rejection(readJson(response));
    expect(error.code).toBe("invalid_response");
    expect(error).not.toBeInstanceOf(TokenError);
  });

  it("rejects an opaque redirect (what redirect: manual yields in a browser) with invalid_response", async () => {
    const response = new Response(null, { status: 200 });
    Object.defineProperty(response, "type", { value: "opaqueredirect" });
    expect((await rejection(readJson(response))).code).toBe("invalid_response");
  });

  it.each([
    ["an HTML page", "<html><body>Sign in</body></html>", "text/html"],
    ["null", "null", "application/json"],
    ["an array", "[]", "application/json"],
    ["a string", '"token"', "application/json"],
    ["a number", "42", "application/json"],
    ["an empty body", "", "application/json"],
    ["truncated JSON", '{"access_token":', "application/json"],
  ])("rejects a 2xx answer that is %s with invalid_response", async (_, body, type) => {
    expect((await rejection(readJson(text(200, body, type)))).code).toBe("invalid_response");
  });

  it("resolves a 2xx JSON object whatever its content type says", async () => {
    await expect(readJson(text(200, '{"key":"k"}', "text/plain"))).resolves.toEqual({ key: "k" });
  });

  it.each([
    {
      shape: "RFC 6749 5.2",
      response: () => json(400, { error: "invalid_grant", error_description: "The code was already used" }),
      status: 400,
      error: "invalid_grant",
      errorDescription: "The code was already used",
    },
    {
      shape: "OpenRouter",
      response: () => json(403, { error: { code: 403, message: "Invalid code or code_verifier" } }),
      status: 403,
      error: "403",
      errorDescription: "Invalid code or code_verifier",
    },
    {
      shape: "OpenRouter with metadata",
      response: () => json(400, { error: { code: 400, message: "Invalid code_challenge_method", metadata: { a: 1 } }, user_id: null }),
      status: 400,
      error: "400",
      errorDescription: "Invalid code_challenge_method",
    },
    { shape: "RFC 6749 without description", response: () => json(401, { error: "invalid_client" }), status: 401, error: "invalid_client", errorDescription: null },
    { shape: "non-JSON", response: () => text(500, "<h1>Internal Server Error</h1>", "text/html"), status: 500, error: null, errorDescription: null },
    { shape: "an empty body", response: () => text(502, ""), status: 502, error: null, errorDescription: null },
    { shape: "a JSON array", response: () => json(400, ["invalid_grant"]), status: 400, error: null, errorDescription: null },
    { shape: "non-string fields", response: () => json(400, { error: true, error_description: { html: "<b>" } }), status: 400, error: null, errorDescription: null },
    { shape: "an error object without code", response: () => json(403, { error: { message: "Forbidden" } }), status: 403, error: null, errorDescription: "Forbidden" },
  ])("reads a $status answer with a $shape body into a TokenError", async ({ response, status, error, errorDescription }) => {
    const caught = await rejection(readJson(response()));
    expect(caught).toBeInstanceOf(TokenError);
    expect(caught.code).toBe("token_error");
    expect(caught).toMatchObject({ status, error, errorDescription });
    expect(caught.message).toContain(`HTTP ${status}`);
  });

  it("caps error and errorDescription at 1,000 characters", async () => {
    const caught = (await rejection(readJson(json(400, { error: "e".repeat(5000), error_description: "d".repeat(5000) })))) as TokenError;
    expect(caught.error).toBe("e".repeat(1000));
    expect(caught.errorDescription).toBe("d".repeat(1000));
    expect(caught.message.length).toBeLessThan(300);
  });

  it("puts an RFC-looking error code and the server's description into the message, without markup or control characters", async () => {
    const odd = (await rejection(readJson(json(400, { error: "<script>alert(1)</script>", error_description: "code <b>expired</b>\u0007" })))) as TokenError;
    expect(odd.message).not.toMatch(/[<>\u0007]/);
    expect(odd.message).toBe("token endpoint: HTTP 400 (unrecognised error: code ?b?expired?/b??)");
    const plain = await rejection(readJson(json(400, { error: "invalid_grant", error_description: "The authorization code has expired" })));
    expect(plain.message).toBe("token endpoint: HTTP 400 (invalid_grant: The authorization code has expired)");
    expect((await rejection(readJson(json(500, {})))).message).toBe("token endpoint: HTTP 500");
  });

  it("blanks every secret out of error and errorDescription", async () => {
    const body = { error: `bad_${CODE}`, error_description: `state ${STATE}, verifier ${VERIFIER}, code ${CODE}` };
    const caught = (await rejection(readJson(json(400, body), SECRETS))) as TokenError;
    expect(caught.error).toBe("bad_[redacted]");
    expect(caught.errorDescription).toBe("state [redacted], verifier [redacted], code [redacted]");
    expect(JSON.stringify(caught) + caught.message).not.toMatch(/SENTINEL/);
  });

  it("blanks a secret that straddles the 1,000-character cap, leaving no part of it", async () => {
    const description = "x".repeat(990) + VERIFIER;
    const caught = (await rejection(readJson(json(403, { error: { code: 403, message: description } }), SECRETS))) as TokenError;
    expect(caught.errorDescription).toBe("x".repeat(990) + "[redacted]");
    expect(caught.errorDescription).not.toContain(VERIFIER.slice(0, 8));
  });

  it("blanks every secret over the original text: a short secret inside a longer one cannot split its echo", async () => {
    // A pasted 1-character code that occurs in the verifier; blanked first, it would cut the
    // verifier's echo into pieces that no longer match the verifier.
    const short = "e";
    expect(VERIFIER).toContain(short);
    const body = { error: "invalid_grant", error_description: `verifier ${VERIFIER}, ${encodeURIComponent(VERIFIER)}; code ${short}` };
    const caught = (await rejection(readJson(json(400, body), [short, VERIFIER]))) as TokenError;
    expect(caught.errorDescription).toBe("v[redacted]rifi[redacted]r [redacted], [redacted]; cod[redacted] [redacted]");
    expect(caught.errorDescription).not.toMatch(/SENTINEL|aaaa/);
  });

  it("does not blank a short secret inside an earlier [redacted]", async () => {
    const caught = (await rejection(readJson(json(400, { error: "x", error_description: `${CODE} / d / a` }), ["d", "a", CODE]))) as TokenError;
    expect(caught.errorDescription).toBe("[redacted] / [redacted] / [redacted]");
  });

  it("blanks a secret the server escaped as JSON \\u sequences (the body is parsed first)", async () => {
    const secret = "rt /+~é";
    const raw = `{"error":"invalid_grant","error_description":"\\u0072t \\u002f+~\\u00e9 | ${encodeURIComponent(secret).toLowerCase()}"}`;
    const caught = (await rejection(readJson(text(400, raw, "application/json"), [secret]))) as TokenError;
    expect(caught.errorDescription).toBe("[redacted] | [redacted]");
  });

  it("blanks anything shaped like an OpenRouter key, even one it was not given", async () => {
    const body = { error: { code: 403, message: "keys sk-or-v1-abc_DEF-123 and SK-OR-v1-0f0f; not sk-o or sk-or-" } };
    const caught = (await rejection(readJson(json(403, body), [CODE]))) as TokenError;
    expect(caught.errorDescription).toBe("keys [redacted] and [redacted]; not sk-o or sk-or-");
  });

  it("names the given endpoint in a TokenError's message", async () => {
    expect((await rejection(readJson(json(401, { error: "invalid_token" }), [], "code endpoint"))).message).toBe("code endpoint: HTTP 401 (invalid_token)");
  });

  it("ignores empty secrets", async () => {
    const caught = (await rejection(readJson(json(400, { error: "invalid_grant" }), ["", CODE]))) as TokenError;
    expect(caught.error).toBe("invalid_grant");
  });
});

describe("field", () => {
  const body = { s: "text", empty: "", n: 3600, nul: null, str: "3600", inf: 1e400 };

  it.each([
    ["a present string", "s", "string", false, "text"],
    ["a present number", "n", "number", false, 3600],
    ["an absent optional field", "missing", "string", true, undefined],
    ["a null optional field", "nul", "string", true, undefined],
  ] as const)("returns %s", (_, name, type, optional, expected) => {
    expect(field(body, name, type, optional)).toBe(expected);
  });

  it.each([
    ["an absent required field", "missing", "string", false],
    ["a null required field", "nul", "string", false],
    ["an empty string", "empty", "string", false],
    ["a number where a string is due", "n", "string", true],
    ["a numeric string where a number is due", "str", "number", true],
    ["an infinite number", "inf", "number", true],
  ] as const)("rejects %s with invalid_response naming the field", (_, name, type, optional) => {
    const error = thrown(() => field(body, name, type, optional));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("invalid_response");
    expect(error.message).toContain(`"${name}"`);
  });
});

describe("redaction of echoed secrets (property)", () => {
  // The alphabets secrets are drawn from: RFC 7636 verifiers, base64 (not url-safe) codes with
  // `/ + =`, and printable ASCII codes with spaces.
  const VERIFIER_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  const BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
  const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
  const secret = (alphabet: string, min: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: 80 });
  // Every way a server may echo a value it was sent.
  const ENCODINGS: Record<string, (s: string) => string> = {
    raw: (s) => s,
    percent: (s) => encodeURIComponent(s),
    "percent, lower-case hex": (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    "every character percent-encoded": (s) => [...new TextEncoder().encode(s)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
    form: (s) => new URLSearchParams({ x: s }).toString().slice(2),
  };

  it.each(Object.keys(ENCODINGS))("blanks a %s echo of verifiers and codes from every alphabet, wherever it stands", async (encoding) => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(secret(VERIFIER_CHARS, 43), secret(BASE64_CHARS, 8), secret(PRINTABLE, 8)),
        fc.string({ maxLength: 900 }),
        fc.string({ maxLength: 50 }),
        async (value, before, after) => {
          const echoed = ENCODINGS[encoding]!(value);
          const caught = (await rejection(readJson(json(400, { error: "invalid_grant", error_description: `${before}${echoed}${after}` }), [value]))) as TokenError;
          for (const surface of [caught.errorDescription ?? "", caught.message]) {
            for (const form of Object.values(ENCODINGS)) expect(surface).not.toContain(form(value));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("blanks a secret echoed across the 1,000-character cap instead of keeping a part of it", async () => {
    const value = `${"a".repeat(40)}~${"b".repeat(40)}`;
    const caught = (await rejection(readJson(json(400, { error: "x", error_description: `${"d".repeat(980)}${encodeURIComponent(value)}` }), [value]))) as TokenError;
    expect(caught.errorDescription).toBe(`${"d".repeat(980)}[redacted]`.slice(0, 1000));
  });
});

describe("body size", () => {
  it("refuses a body over 1 MiB with invalid_response and stops reading it", async () => {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(chunk);
      },
    });
    const error = await rejection(readJson(new Response(stream, { status: 200 })));
    expect(error.code).toBe("invalid_response");
    expect(error.message).toMatch(/1 MiB/);
    // 17 chunks pass 1 MiB; an endless body is not read to its end.
    expect(pulled).toBeLessThan(20);
  });

  it("refuses a Content-Length over 1 MiB before reading, for error answers too", async () => {
    const big = new Response("{}", { status: 400, headers: { "Content-Length": String(2 ** 20 + 1) } });
    expect((await rejection(readJson(big))).code).toBe("invalid_response");
  });

  it("reads a body of exactly 1 MiB", async () => {
    const body = `{"access_token":"${"a".repeat(2 ** 20 - 19)}"}`;
    expect(new TextEncoder().encode(body).byteLength).toBe(2 ** 20);
    const read = await readJson(new Response(body, { status: 200 }));
    expect((read["access_token"] as string).length).toBe(2 ** 20 - 19);
  });
});

describe("redaction: long secrets, cut echoes, other forms and costs", () => {
  const AS = "https://as.example";
  const provider = oauth2({ clientId: "my-spa", authorizationEndpoint: `${AS}/authorize`, tokenEndpoint: `${AS}/token`, redirectUri: "https://app.example/callback", userinfoEndpoint: `${AS}/me` });
  // A large JWT (Azure AD tokens with many group claims get this big).
  const LONG = "eyJSENTINEL" + "x".repeat(7000);
  // A regex source in a SyntaxError's message would spell a secret one character per group.
  const readable = (text: string) => text.replace(/\(\?:\\?(.)\|(?:%[0-9a-f]{2})+(?:\|\\\+)?\)/g, "$1");
  const settled = async (promise: Promise<unknown>): Promise<Error> => {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error("expected a rejection");
  };
  const tokenError = async (body: unknown, secrets: string[]): Promise<TokenError> => {
    const error = await settled(readJson(json(400, body), secrets));
    if (!(error instanceof TokenError)) throw error;
    return error;
  };

  it.each<[string, () => Promise<unknown>]>([
    ["userinfo with a 7 KB access token answered 401", () => userinfo(provider, LONG, { fetch: fetchRecorder(() => json(401, { error: "invalid_token" })).fetch })],
    ["refresh with a 7 KB refresh token while offline", () => refresh(provider, LONG, { fetch: (() => Promise.reject(new TypeError("Failed to fetch"))) as typeof fetch })],
  ])("%s: a typed error that holds no part of the token", async (_, call) => {
    const error = await settled(call());
    expect(error).toBeInstanceOf(PkceError);
    for (const text of [error.message, String(error.stack), String((error.cause as Error | undefined)?.message)]) expect(readable(text)).not.toContain("eyJSENTINEL");
  });

  it("keeps no server text when the secrets add up to more than it searches: a 7 KB code, its verifier and state", async () => {
    const code = "Code-SENTINEL-" + "c".repeat(7000);
    const request = new Request(TOKEN_URL, { method: "POST", body: new URLSearchParams({ code, code_verifier: VERIFIER }) });
    const error = await settled(sendRequest(request, { fetch: fetchRecorder(() => json(400, { error: "invalid_grant", error_description: `no ${VERIFIER} for ${STATE}` })).fetch }, [code, VERIFIER, STATE]));
    expect(error).toBeInstanceOf(TokenError);
    expect((error as TokenError).errorDescription).toBe("[redacted]");
    for (const secret of ["Verifier-SENTINEL", "State-SENTINEL", "Code-SENTINEL"]) expect(readable(error.message)).not.toContain(secret);
  });

  it("a headless flow given a 7 KB paste answers with a typed error that never spells the verifier", async () => {
    const recorder = fetchRecorder(() => json(400, { error: { code: 400, message: "Invalid code" } }));
    const flow = createFlow(openRouter({ headless: true }), { storage: new MemoryStorage(), fetch: recorder.fetch });
    await flow.authorize();
    const error = await settled(flow.exchangeCode("A".repeat(7000)));
    const { code_verifier: verifier } = JSON.parse(await recorder.calls[0]!.body) as { code_verifier: string };
    expect(error).toBeInstanceOf(PkceError);
    expect(readable(error.message)).not.toContain(verifier);
  });

  it("keeps no part of a secret the search window cut, once earlier echoes shrank to [redacted]", async () => {
    const verifier = VERIFIER.slice(0, 43);
    const echoes = `${verifier} `.repeat(33);
    // The last echo starts where the searched window (1000 + 12 * 43) cuts it.
    const description = echoes + "x".repeat(1516 - 42 - echoes.length) + verifier;
    const error = await tokenError({ error: "invalid_grant", error_description: description }, [CODE, verifier]);
    expect(`${error.message} ${error.errorDescription}`).not.toContain(verifier.slice(0, 20));
  });

  it("blanks a secret a server echoes JSON-escaped inside its text (\\/ and \\u002f)", async () => {
    const token = "1//0gSENTINEL-refresh-token";
    const escaped = JSON.stringify({ refresh_token: token }).replace(/\//g, "\\/");
    const unicode = token.replace(/\//g, "\\u002f");
    const error = await tokenError({ error: "invalid_grant", error_description: `bad request ${escaped} ${unicode}` }, [token]);
    expect(error.errorDescription).not.toContain("0gSENTINEL");
  });

  it("leaves ordinary words that merely contain sk-or- alone, and still blanks an OpenRouter key", async () => {
    const words = "pick a task-or-project scope, not a disk-or-memory one";
    expect((await tokenError({ error: "invalid_request", error_description: words }, [])).errorDescription).toBe(words);
    expect((await tokenError({ error: "invalid_request", error_description: "key SK-OR-V1-abc123def456 refused" }, [])).errorDescription).toBe("key [redacted] refused");
  });

  it("blanks an OpenRouter key after a percent-encoded space, an escaped newline or an underscore", async () => {
    const key = "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (const text of [`Authorization=Bearer%20${key}`, `request was:\\n${key}`, `token_${key}`]) {
      expect((await tokenError({ error: "invalid_request", error_description: text }, [CODE])).errorDescription).not.toContain("0123456789abcdef");
    }
  });

  it("keeps the error code, and only it, when the secrets are too long to search", async () => {
    const big = "eyJ" + "a".repeat(2100) + ".sig";
    const refused = await tokenError({ error: "invalid_grant", error_description: `refresh token ${big} expired` }, [big]);
    expect([refused.error, refused.errorDescription]).toEqual(["invalid_grant", "[redacted]"]);
    expect((await tokenError({ error: { code: 400, message: "bad code" } }, ["c".repeat(2100)])).error).toBe("400");
    // An error "code" that holds a secret is not kept.
    expect((await tokenError({ error: STATE, error_description: "x" }, [big, STATE])).error).not.toContain(STATE);
  });

  it("keeps the first 1000 characters of a long text whose early echoes were blanked", async () => {
    const description = `sent ${VERIFIER}; ` + "x".repeat(3000);
    const error = await tokenError({ error: "invalid_grant", error_description: description }, [VERIFIER]);
    expect(error.errorDescription).toBe(("sent [redacted]; " + "x".repeat(3000)).slice(0, 1000));
  });

  it("searches a text of backslashes for a secret of backslashes in linear time", async () => {
    const code = "\\".repeat(24) + "Z";
    const started = performance.now();
    const error = await tokenError({ error: "invalid_grant", error_description: "\\".repeat(48) + code }, [code]);
    expect(performance.now() - started).toBeLessThan(500);
    // Leftmost first: the JSON-escaped echo (each backslash doubled) starts 24 characters in.
    expect(error.errorDescription).toBe("\\".repeat(24) + "[redacted]");
  });

  it.each<[string, string, string]>([
    ["a 128-character verifier echoed 100 times", "Verifier-SENTINEL-" + "a".repeat(110), "raw"],
    ["a 2,000-character secret echoed percent-encoded 50 times", "\u20ac".repeat(2000), "encoded"],
  ])("keeps the first 1000 characters after %s", async (_, secret, form) => {
    const echo = form === "raw" ? secret : encodeURIComponent(secret);
    const description = `sent ${echo}; `.repeat(form === "raw" ? 100 : 50) + "x".repeat(2000);
    const error = await tokenError({ error: "invalid_grant", error_description: description }, [secret]);
    expect(error.errorDescription).toBe(description.split(echo).join("[redacted]").slice(0, 1000));
  });

  it("blanks a secret's echo first, then a key shape, so neither leaves part of the other", async () => {
    const verifier = "abcd.Verifier~SENTINEL-tail";
    const around = await tokenError({ error: "invalid_request", error_description: `key sk-or-v1-xyz${verifier} refused` }, [verifier]);
    expect(around.errorDescription).toBe("key [redacted] refused");
    const inside = await tokenError({ error: "invalid_request", error_description: "key sk-or-v1-0123CODE4567 refused" }, ["CODE"]);
    expect(inside.errorDescription).toBe("key [redacted] refused");
  });

  it.each<[string, string, string]>([
    ["an astral character as a JSON surrogate pair", "code\u{1F600}SENTINEL", "bad code code\\ud83d\\ude00SENTINEL"],
    ["a quote JSON-escaped without \\/", 'co"de/SENTINEL', `bad code ${JSON.stringify('co"de/SENTINEL').slice(1, -1)}`],
    ["a backslash JSON-escaped with \\/", "co\\de/SENTINEL", "bad code co\\\\de\\/SENTINEL"],
  ])("blanks an echo with %s", async (_, code, description) => {
    const error = await tokenError({ error: "invalid_grant", error_description: description }, [code]);
    expect(error.errorDescription).toBe("bad code [redacted]");
  });

  it("keeps no key-shaped error code when the secrets are too long to search", async () => {
    const code = "sk-or-v1-" + "0123456789abcdef".repeat(4).slice(0, 55);
    for (const secrets of [["c"], ["c".repeat(2100)]]) {
      expect((await tokenError({ error: code, error_description: "x" }, secrets)).error).toBe("[redacted]");
    }
  });

  it("blanks a whole key even when a short secret's echo falls inside its prefix", async () => {
    const error = await tokenError({ error: "invalid_request", error_description: "your key sk-or-v1-0123456789abcdefKEYBODY is invalid" }, ["1"]);
    expect(error.errorDescription).toBe("your key [redacted] is invalid");
  });

  it("blanks both secrets when a short one's echo overlaps the start of a longer one's", async () => {
    const long = "LongSecretTail-0123456789";
    const error = await tokenError({ error: "invalid_grant", error_description: `got x${long} here` }, [long, "xL"]);
    expect(error.errorDescription).toBe("got [redacted] here");
  });

  it("cleans a 1 MiB hostile error body quickly, whatever the secrets (no ReDoS)", async () => {
    for (const length of [2000, 6000]) {
      const code = "a".repeat(length);
      const description = ("a".repeat(length - 1) + "b").repeat(Math.ceil(1040000 / length)).slice(0, 1040000);
      const started = performance.now();
      await tokenError({ error: "invalid_grant", error_description: description }, [code, VERIFIER, STATE]);
      expect(performance.now() - started).toBeLessThan(3000);
    }
  }, 60_000);
});
