import { PkceError, TokenError } from "./errors.js";

/** How {@link sendRequest} sends. */
export interface SendOptions {
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** Give up after this many milliseconds (`timeout`). @default 30000 */
  timeoutMs?: number | undefined;
  /** Abort from outside (`aborted`). */
  signal?: AbortSignal | undefined;
}

/** A 2xx JSON object body. */
export type JsonObject = Record<string, unknown>;

const MAX_TEXT = 1000;

/**
 * Sends a built request once, without cookies, cache, referrer or redirects, under a timeout, and
 * reads its JSON object body. Secrets are blanked out of any server text kept in an error.
 * @throws {TokenError} for a non-2xx answer (RFC 6749 5.2 or OpenRouter error body).
 * @throws {PkceError} `invalid_response` (a redirect, or a 2xx body that is not a JSON object),
 *   `network_error`, `timeout`, `aborted`.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.12
 */
export async function sendRequest(request: Request, options: SendOptions = {}, secrets: string[] = []): Promise<JsonObject> {
  const timeoutMs = options.timeoutMs ?? 30000;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const outer = options.signal;
  const onAbort = () => controller.abort();
  outer?.addEventListener("abort", onAbort);
  const stop = (cause?: unknown): never => {
    if (timedOut) throw new PkceError("timeout", `The server did not answer within ${timeoutMs} ms.`);
    if (outer?.aborted) throw new PkceError("aborted", "The request was aborted.");
    throw new PkceError("network_error", "The server could not be reached (network error or CORS).", safeCause(cause, secrets));
  };
  try {
    if (outer?.aborted) stop();
    const init: RequestInit = {
      redirect: "manual",
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      signal: controller.signal,
    };
    // Raced against the signal, so the timeout and abort hold even for a fetch that ignores it.
    const abort = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(new DOMException("The request was aborted.", "AbortError")), { once: true });
    });
    try {
      const response = await Promise.race([(options.fetch ?? globalThis.fetch)(new Request(request, init), init), abort]);
      return await Promise.race([readJson(response, secrets), abort]);
    } catch (error) {
      if (error instanceof PkceError) throw error;
      return stop(error);
    }
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}

/**
 * Reads a token endpoint's answer: the JSON object of a 2xx, a {@link TokenError} otherwise.
 * @throws {TokenError} for a non-2xx answer (RFC 6749 5.2 or OpenRouter error body).
 * @throws {PkceError} `invalid_response` for a redirect or a 2xx body that is not a JSON object.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export async function readJson(response: Response, secrets: string[] = []): Promise<JsonObject> {
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    throw new PkceError("invalid_response", "The token endpoint answered with a redirect, which is never followed.");
  }
  const body = parseObject(await response.text());
  if (!response.ok) {
    const error = body?.["error"];
    const nested = typeof error === "object" && error !== null ? (error as JsonObject) : null;
    throw new TokenError(
      response.status,
      clean(nested ? nested["code"] : error, secrets),
      clean(nested ? nested["message"] : body?.["error_description"], secrets),
    );
  }
  if (!body) throw new PkceError("invalid_response", "The token endpoint's answer is not a JSON object.");
  return body;
}

function parseObject(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : null;
  } catch {
    return null;
  }
}

// Server text may echo what it was sent; a secret is blanked before the text is kept.
function clean(value: unknown, secrets: string[]): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  // Blanked before capping, so a secret cut by the cap cannot survive in part.
  let text = String(value);
  for (const secret of secrets) if (secret) text = text.split(secret).join("[redacted]");
  return text.slice(0, MAX_TEXT);
}

// A cause is kept only as its name and cleaned message, never as the original object.
function safeCause(cause: unknown, secrets: string[]): { cause: Error } | undefined {
  if (!(cause instanceof Error)) return undefined;
  const copy = new Error(clean(cause.message, secrets) ?? "");
  copy.name = cause.name;
  return { cause: copy };
}

/**
 * @internal Reads a required string field of a 2xx body.
 * @throws {PkceError} `invalid_response`.
 */
export function field<T extends "string" | "number">(body: JsonObject, name: string, type: T, optional: boolean): (T extends "string" ? string : number) | undefined {
  const value = body[name];
  if (value === undefined || (optional && value === null)) {
    if (optional) return undefined;
  } else if (typeof value === type && (type === "number" ? Number.isFinite(value) : value !== "")) {
    return value as T extends "string" ? string : number;
  }
  throw new PkceError("invalid_response", `The token endpoint's answer has no valid "${name}".`);
}
