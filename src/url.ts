import { PkceError } from "./errors.js";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * @internal Parses a URL that must be https, or http on a loopback host, with no userinfo and no
 * fragment (RFC 6749 3.1.2, RFC 8252 7.3).
 * @throws {PkceError} `invalid_config` naming the option.
 */
export function secureUrl(value: unknown, what: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value as string);
  } catch {
    // reported below
  }
  if (
    !url ||
    (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) ||
    url.username !== "" ||
    url.password !== "" ||
    String(value).includes("#")
  ) {
    throw new PkceError(
      "invalid_config",
      `${what} must be an absolute https URL (or http on localhost, 127.0.0.1 or [::1]) without user:password or #fragment.`,
    );
  }
  return url;
}
