import { fail } from "./errors.js";

const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];

/**
 * @internal Parses a URL that must be https, or http on a loopback host, with no userinfo and no
 * fragment (RFC 6749 3.1.2, RFC 8252 7.3).
 * @throws {PkceError} `invalid_config` naming the option.
 */
export function secureUrl(value: unknown, what: string): URL {
  try {
    const url = new URL(value as string);
    const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.includes(url.hostname));
    if (secure && !url.username && !url.password && !String(value).includes("#")) return url;
  } catch {
    // reported below
  }
  return fail("invalid_config", `${what} must be https (or http on loopback), without user:password or #fragment`);
}

/**
 * @internal `base` with each record's entries set in its query, in order; `undefined` values are
 * left out, others sent as `String(value)`.
 */
export function withQuery(base: string, ...records: Record<string, unknown>[]): URL {
  const url = new URL(base);
  for (const record of records) {
    for (const [name, value] of Object.entries(record)) if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url;
}
