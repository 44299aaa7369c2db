import { describe, expect, it } from "vitest";
import { openRouter } from "../../src/index.ts";
import { thrown } from "./helpers/errors.ts";

const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

describe("probe: openRouter per-request params", () => {
  it("K1 params override the configured, validated key settings with unvalidated values", () => {
    const provider = openRouter({ callbackUrl: "https://app.example/cb", limit: 5, usageLimitType: "daily", expiresAt: "2099-01-01T00:00:00Z" });
    const params = { limit: "-1e309", usage_limit_type: "forever", expires_at: "1970-01-01" };
    // FAILS: no error; the URL carries limit=-1e309, usage_limit_type=forever, expires_at=1970-01-01
    // instead of the configured 5 / daily / 2099 that openRouter() validated
    expect(thrown(() => provider.authorizationUrl({ state: "s", codeChallenge: CHALLENGE, codeChallengeMethod: "S256", params })).code).toBe("invalid_argument");
  });
});
