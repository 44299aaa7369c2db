import { PkceError, TokenError, fail } from "./errors.js";

/** How {@link sendRequest} sends. */
export interface SendOptions {
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** Give up after this many milliseconds (`timeout`): a number > 0 and <= 2^31 - 1. @default 30000 */
  timeoutMs?: number | undefined;
  /** Abort from outside (`aborted`); an `AbortSignal`, or `null` for none. */
  signal?: AbortSignal | null | undefined;
}

/** A 2xx JSON object body. */
export type JsonObject = Record<string, unknown>;

const MAX_TEXT = 1000;
// Token, key and metadata answers are small; a larger body is refused, and the rest not downloaded.
const MAX_BODY = 1048576; // 1 MiB, as a literal: an expression would stay in every bundle

/**
 * @internal The longest timer a browser keeps, 2^31 - 1 ms: setTimeout fires at once for more, as
 * for 0, NaN and Infinity. A literal: an expression would stay in every bundle.
 */
export const MAX_TIMER = 2147483647;

/** @internal A duration for a timer: a number of ms > 0 and <= {@link MAX_TIMER}; otherwise fails with `code`. */
export function checkTimer(value: unknown, name: string, code: "invalid_argument" | "invalid_config"): void {
  if (!(typeof value === "number" && value > 0 && value <= MAX_TIMER)) fail(code, `${name} must be a number of ms > 0 and <= 2^31 - 1`);
}

/** @internal A caller's `signal`: an `AbortSignal`, or `null` / `undefined` for none (as in fetch). */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal != null && !(signal instanceof AbortSignal)) fail("invalid_argument", "signal must be an AbortSignal");
  return (signal ?? undefined) as AbortSignal | undefined;
}

/**
 * Sends a built request once, without cookies, cache, referrer or redirects, under a timeout, and
 * reads its JSON object body. Secrets are blanked out of any server text kept in an error.
 * @throws {TokenError} for a non-2xx answer (RFC 6749 5.2 or OpenRouter error body).
 * @throws {PkceError} `invalid_argument` (a `timeoutMs` that is not a number > 0 and <= 2^31 - 1,
 *   a `signal` that is not an `AbortSignal`: nothing is sent), `invalid_response` (a redirect, or a
 *   2xx body that is not a JSON object), `network_error`, `timeout`, `aborted`.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.12
 */
export async function sendRequest(request: Request, options?: SendOptions | null, secrets: string[] = []): Promise<JsonObject> {
  const { timeoutMs = 30000, signal: outer } = options ?? {};
  // Checked before anything is sent: a timer out of range fires at once, after fetch was called.
  checkTimer(timeoutMs, "timeoutMs", "invalid_argument");
  checkSignal(outer);
  const controller = new AbortController();
  const abort = () => controller.abort();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort();
  }, timeoutMs);
  outer?.addEventListener("abort", abort);
  // Rejects on abort: raced against fetch and body, so the timeout and abort hold even for a fetch
  // that ignores the signal. Only the timer and `outer` abort, so the reason is known below.
  const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener("abort", reject));
  let cause: unknown;
  try {
    if (!outer?.aborted) {
      const init: RequestInit = {
        redirect: "manual",
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
        signal: controller.signal,
      };
      const response = await Promise.race([(options?.fetch ?? globalThis.fetch)(new Request(request, init), init), aborted]);
      return await Promise.race([readJson(response, secrets), aborted]);
    }
  } catch (error) {
    if (error instanceof PkceError) throw error;
    cause = error;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", abort);
  }
  if (timedOut) fail("timeout", `no answer within ${timeoutMs} ms`);
  if (outer?.aborted) fail("aborted", "request aborted");
  return fail("network_error", "network error (offline or CORS?)", safeCause(cause, secrets));
}

/**
 * Reads a token endpoint's answer: the JSON object of a 2xx, a {@link TokenError} otherwise.
 * At most 1 MiB is read.
 * @param what - The endpoint, for a TokenError's message. @default "token endpoint"
 * @throws {TokenError} for a non-2xx answer (RFC 6749 5.2 or OpenRouter error body).
 * @throws {PkceError} `invalid_response` for a redirect, a body over 1 MiB, or a 2xx body that is
 *   not a JSON object.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export async function readJson(response: Response, secrets: string[] = [], what?: string): Promise<JsonObject> {
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    fail("invalid_response", "redirect refused (never followed)");
  }
  const body = parseObject(await readText(response));
  if (!response.ok) {
    const error = body?.["error"];
    // OpenRouter nests its error as `{ error: { code, message } }`.
    const [code, description] = error instanceof Object ? [(error as JsonObject)["code"], (error as JsonObject)["message"]] : [error, body?.["error_description"]];
    throw new TokenError(response.status, clean(code, secrets), clean(description, secrets), what);
  }
  return body ?? fail("invalid_response", "answer is not a JSON object");
}

// The body as text, refused past MAX_BODY bytes without reading the rest.
async function readText(response: Response): Promise<string> {
  if (Number(response.headers.get("content-length")) > MAX_BODY) tooLarge(response.body?.cancel());
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (let chunk; reader && !(chunk = await reader.read()).done; ) {
    size += chunk.value.byteLength;
    if (size > MAX_BODY) tooLarge(reader.cancel());
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text + decoder.decode();
}

function tooLarge(cancelled?: Promise<void>): never {
  cancelled?.catch(() => {});
  return fail("invalid_response", "answer over 1 MiB refused");
}

function parseObject(text: string): JsonObject | null {
  try {
    // JSON.parse makes objects of this realm, so `instanceof Object` is the object test.
    const value: unknown = JSON.parse(text);
    return value instanceof Object && !Array.isArray(value) ? (value as JsonObject) : null;
  } catch {
    return null;
  }
}

// Past this many characters of secrets, server text is blanked whole rather than searched: the
// echo pattern grows with every character (an engine refuses one too large, with a message that
// spells it out) and so does the search.
const MAX_SECRETS = 2048;

// Server text may echo what it was sent: raw, percent-encoded or form-encoded (in any mix, hex in
// either case), or JSON-escaped inside text (`\/`, `\u002f`); every secret is blanked in all of
// them before the text is kept, and so is anything shaped like an OpenRouter API key (`sk-or-v1-…`),
// whichever request it came with. Never throws: what cannot be searched is not kept.
function clean(value: unknown, secrets: string[]): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const kept = secrets.filter(Boolean);
  const all = String(value);
  if (kept.join("").length > MAX_SECRETS) {
    // Not searched: only an error code (RFC 6749 5.2 shape, or OpenRouter's number) holding no
    // secret and no key is kept, so an app still tells `invalid_grant` apart.
    const code = /^[\w.-]{1,64}$/.test(all) && !/sk-or-v\d+-/i.test(all) && !kept.some((secret) => all.toLowerCase().includes(secret.toLowerCase()));
    return code ? all : "[redacted]";
  }
  // Only the part that can reach the cap is searched (an encoded character is at most 12 long). A
  // window cut inside an echo ends in part of a secret no pattern matched, so that tail goes; the
  // window doubles while blanked echoes leave less than the cap (the text is at most 1 MiB).
  const tail = 12 * Math.max(0, ...kept.map((secret) => secret.length));
  let out = "";
  try {
    // Each secret on its own, and an OpenRouter key (its version after the prefix, so
    // "task-or-project" is none): overlapping echoes are all found, and their merged ranges blanked.
    const patterns = [...kept.map((secret) => new RegExp(echoes(secret), "gi")), /sk-or-v\d+-[\w-]+/gi];
    for (let end = MAX_TEXT + tail; ; end = Math.max(2 * end, end + tail + MAX_TEXT)) {
      out = blank(all.slice(0, end), patterns);
      if (end >= all.length) break;
      out = out.slice(0, Math.max(0, out.length - tail));
      if (out.length >= MAX_TEXT) break;
    }
  } catch {
    return "[redacted]";
  }
  return out.slice(0, MAX_TEXT);
}

// Replaces every match of every pattern, each searched on its own over `text` (one blanked first
// cannot cut another's echo into pieces that escape), merged where they overlap or touch.
function blank(text: string, patterns: RegExp[]): string {
  const ranges: Array<[number, number]> = [];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) ranges.push([match.index!, match.index! + match[0].length]);
  ranges.sort((a, b) => a[0] - b[0]);
  let out = "";
  let at = 0;
  for (let i = 0; i < ranges.length; ) {
    let [start, end] = ranges[i]!;
    while (++i < ranges.length && ranges[i]![0] <= end) end = Math.max(end, ranges[i]![1]);
    out += `${text.slice(at, start)}[redacted]`;
    at = end;
  }
  return out + text.slice(at);
}

// A pattern for every echo of `secret`: each character as itself, percent-encoded (UTF-8, any hex
// case), as JSON `\u` escapes (one per UTF-16 unit), or `+` for a space; and the whole secret
// JSON-escaped, with and without `\/`, each as one exact form (an optional backslash per character
// would make the search exponential).
function echoes(secret: string): string {
  let pattern = "";
  for (const char of secret) {
    let encoded = "";
    let units = "";
    for (const byte of new TextEncoder().encode(char)) encoded += `%${byte.toString(16).padStart(2, "0")}`;
    for (let i = 0; i < char.length; i++) units += `\\\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`;
    pattern += `(?:${literal(char)}|${encoded}|${units}${char === " " ? "|\\+" : ""})`;
  }
  const json = JSON.stringify(secret).slice(1, -1);
  for (const form of new Set([json, json.replace(/\//g, "\\/")])) if (form !== secret) pattern += `|${literal(form)}`;
  return pattern;
}

const literal = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");

// A cause is kept only as its name and cleaned message, never as the original object.
function safeCause(cause: unknown, secrets: string[]): { cause: Error } | undefined {
  if (!(cause instanceof Error)) return undefined;
  const copy = new Error(clean(cause.message, secrets) ?? "");
  copy.name = cause.name;
  return { cause: copy };
}

/**
 * @internal Reads a field of a 2xx body: a non-empty string or a finite number; when `optional`,
 * `undefined` for a missing, null or empty-string one.
 * @throws {PkceError} `invalid_response`.
 */
export function field<T extends "string" | "number">(body: JsonObject, name: string, type: T, optional: boolean): (T extends "string" ? string : number) | undefined {
  const value = body[name];
  if (optional && (value == null || value === "")) return undefined;
  if (typeof value === type && (type === "number" ? Number.isFinite(value) : value !== "")) return value as T extends "string" ? string : number;
  return fail("invalid_response", `answer has no valid "${name}"`);
}
