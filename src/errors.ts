/**
 * Stable error codes carried by every {@link PkceError}. Switch on `code`, not on messages.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export type PkceErrorCode =
  | "invalid_argument"
  | "invalid_config"
  | "crypto_unavailable"
  | "storage_unavailable"
  | "no_transaction"
  | "expired"
  | "invalid_callback"
  | "state_missing"
  | "state_mismatch"
  | "issuer_missing"
  | "issuer_mismatch"
  | "authorization_error"
  | "token_error"
  | "invalid_response"
  | "network_error"
  | "timeout"
  | "aborted"
  | "invalid_id_token"
  | "popup_blocked"
  | "popup_closed";

/** Literal names of this library's error classes; they survive minification. */
export type PkceErrorName = "PkceError" | "AuthorizationError" | "TokenError";

const NAMES: readonly unknown[] = ["PkceError", "AuthorizationError", "TokenError"] satisfies PkceErrorName[];

/**
 * The one error type this library throws. Messages say what was wrong and what to do; they never
 * contain a verifier, code, state or key.
 * @example
 * try { await flow.handleCallback() } catch (e) { if (isPkceError(e, "state_mismatch")) restart() }
 */
export class PkceError extends Error {
  override readonly name: PkceErrorName = "PkceError";
  // Fields below are `declare`d and assigned in the constructor: the same own properties as class
  // fields, without the extra field declarations those emit.
  /** Stable machine-readable reason. */
  declare readonly code: PkceErrorCode;

  constructor(code: PkceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * @internal Throws a {@link PkceError}: one short call instead of a `throw new` at every check.
 * @throws {PkceError} always.
 */
export function fail(code: PkceErrorCode, message: string, options?: { cause?: unknown }): never {
  throw new PkceError(code, message, options);
}

/**
 * The authorization server redirected back with `error=` (RFC 6749 4.1.2.1). The fields are
 * plain strings capped at 1,000 characters; render them as text, never as HTML.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 */
export class AuthorizationError extends PkceError {
  override readonly name = "AuthorizationError" as const;
  declare readonly code: "authorization_error";
  /** The `error` parameter, e.g. `access_denied`. */
  declare readonly error: string;
  /** The `error_description` parameter, or `null`. */
  declare readonly errorDescription: string | null;
  /** The `error_uri` parameter, or `null`. */
  declare readonly errorUri: string | null;

  constructor(error: string, errorDescription: string | null, errorUri: string | null) {
    super("authorization_error", `authorization refused (${describe(error)})`);
    this.error = error;
    this.errorDescription = errorDescription;
    this.errorUri = errorUri;
  }
}

/**
 * The token endpoint answered with a non-2xx status. `error` and `errorDescription` come from an
 * RFC 6749 5.2 body or OpenRouter's `{ error: { code, message } }`; the raw body is never kept.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class TokenError extends PkceError {
  override readonly name = "TokenError" as const;
  declare readonly code: "token_error";
  /** HTTP status of the token endpoint's answer. */
  declare readonly status: number;
  /** RFC 6749 `error` (or OpenRouter's numeric code as a string), or `null`. */
  declare readonly error: string | null;
  /** Human-readable description from the server, capped at 1,000 characters, or `null`. */
  declare readonly errorDescription: string | null;

  /**
   * @param what - The endpoint that answered, for the message. @default "token endpoint"
   */
  constructor(status: number, error: string | null, errorDescription: string | null, what = "token endpoint") {
    // The server's own reason goes into the message too: blanked of secrets by the caller, then
    // made printable.
    const reason = [error === null ? "" : describe(error), errorDescription && printable(errorDescription)].filter(Boolean).join(": ");
    super("token_error", `${what}: HTTP ${status}${reason ? ` (${reason})` : ""}`);
    this.status = status;
    this.error = error;
    this.errorDescription = errorDescription;
  }
}

/**
 * @internal Server-chosen text as it may enter a message: cut to 200 characters, every character
 * outside printable ASCII (control, bidi, newline) and every `<` `>` replaced by `?`, so a message
 * shown as text or logged line by line cannot be restyled or forge a line.
 */
export function printable(text: string): string {
  return text.slice(0, 200).replace(/[^\x20-\x7e]|[<>]/g, "?");
}

// Server-chosen text enters a message only when it looks like an RFC 6749 error code.
function describe(error: string): string {
  return /^[\w.-]{1,64}$/.test(error) ? error : "unrecognised error";
}

/** The error class that carries `code`: {@link AuthorizationError}, {@link TokenError} or {@link PkceError}. */
export type PkceErrorOf<C extends PkceErrorCode> = C extends "authorization_error"
  ? AuthorizationError
  : C extends "token_error"
    ? TokenError
    : PkceError & { readonly code: C };

/**
 * Every error this library throws, as a union that narrows on `code`:
 * `if (error.code === "token_error") error.status` type-checks.
 * @example
 * const { error } = flow.snapshot()
 * if (error?.code === "authorization_error") show(error.errorDescription)
 */
export type AnyPkceError = PkceErrorOf<PkceErrorCode>;

/**
 * Whether `value` is an error from this library (any bundle copy: checks `name` and `code`, not
 * `instanceof`), optionally with the given code. It narrows to {@link AnyPkceError}, or to the
 * class of that code: `"token_error"` to {@link TokenError}, `"authorization_error"` to
 * {@link AuthorizationError}.
 * @example
 * if (isPkceError(e, "expired")) await flow.start()
 */
export function isPkceError<C extends PkceErrorCode = PkceErrorCode>(value: unknown, code?: C): value is PkceErrorOf<C> {
  if (typeof value !== "object" || value === null) return false;
  const { name, code: actual } = value as { name?: unknown; code?: unknown };
  // `includes` is false for a non-string name, so no separate type check is needed.
  return NAMES.includes(name) && typeof actual === "string" && (code === undefined || actual === code);
}
