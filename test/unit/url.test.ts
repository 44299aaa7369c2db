import { describe, expect, it } from "vitest";
import { PkceError } from "../../src/index.ts";
import { secureUrl } from "../../src/url.ts";

function configError(value: unknown): PkceError {
  try {
    secureUrl(value, "callbackUrl");
  } catch (error) {
    if (error instanceof PkceError) return error;
    throw error;
  }
  throw new Error("expected secureUrl to throw");
}

describe("secureUrl", () => {
  it.each([
    ["https on the default port", "https://app.example/callback", "https://app.example/callback"],
    ["https on any port with a query", "https://app.example:8443/cb?from=menu", "https://app.example:8443/cb?from=menu"],
    ["http on localhost", "http://localhost:5173/callback", "http://localhost:5173/callback"],
    ["http on 127.0.0.1", "http://127.0.0.1/callback", "http://127.0.0.1/callback"],
    ["http on [::1]", "http://[::1]:8080/", "http://[::1]:8080/"],
    ["upper-case scheme and host, normalised", "HTTPS://APP.EXAMPLE/cb", "https://app.example/cb"],
    ["an origin without a path, given a slash", "https://app.example", "https://app.example/"],
  ])("accepts %s", (_, value, href) => {
    const url = secureUrl(value, "callbackUrl");
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe(href);
  });

  it.each([
    ["http on a public host", "http://app.example/callback"],
    ["http on a host that only starts with localhost", "http://localhost.evil.example/"],
    ["http on another 127/8 address", "http://127.0.0.2/"],
    ["http with localhost as userinfo", "http://localhost@evil.example/"],
    ["user and password", "https://user:pass@app.example/"],
    ["a user name alone", "https://user@app.example/"],
    ["a fragment", "https://app.example/cb#top"],
    ["an empty fragment", "https://app.example/cb#"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a data: URL", "data:text/html,hi"],
    ["a file: URL", "file:///etc/passwd"],
    ["an ftp: URL", "ftp://app.example/"],
    ["a relative path", "/callback"],
    ["a protocol-relative URL", "//app.example/callback"],
    ["an empty string", ""],
    ["a number", 42],
    ["null", null],
    ["undefined", undefined],
  ])("rejects %s with invalid_config", (_, value) => {
    const error = configError(value);
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain("callbackUrl");
  });

  it.each(["callbackUrl", "tokenEndpoint", "baseUrl"])("names the option %s in the message", (what) => {
    let message = "";
    try {
      secureUrl("http://evil.example/", what);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.startsWith(`${what} must be`)).toBe(true);
  });
});
