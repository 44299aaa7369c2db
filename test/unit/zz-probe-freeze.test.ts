import { describe, expect, it } from "vitest";
import { discover, oauth2 } from "../../src/index.ts";
import { rejection, thrown } from "./helpers/errors.ts";
import { fetchRecorder, text } from "./helpers/fetch.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const ISSUER = "https://as.example";
const provider = oauth2({
  clientId: "my-spa",
  issuer: ISSUER,
  authorizationEndpoint: `${ISSUER}/authorize`,
  tokenEndpoint: `${ISSUER}/token`,
  redirectUri: "https://app.example/callback",
  scope: ["openid"],
});

describe("probe: deepFreeze spreads a whole array into push()", () => {
  it("F1 an ID token with a 300k-element claim array (well under 1 MiB) throws a raw RangeError", () => {
    const claims = goodClaims({ groups: new Array(300000).fill(0) });
    const token = jwt(claims);
    expect(token.length).toBeLessThan(1048576);
    // FAILS: "expected a PkceError, got RangeError: Maximum call stack size exceeded"
    const error = thrown(() => provider.parseResult({ access_token: "at", token_type: "Bearer", id_token: token }, { nonce: "n-0S6_WzA2Mj" }));
    expect(error.code).toBeDefined();
  });

  it("F2 discovery metadata with a 400k-element array (under 1 MiB): raw RangeError from discover()", async () => {
    const meta = JSON.stringify({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/a`, token_endpoint: `${ISSUER}/t`, scopes_supported: new Array(400000).fill(0) });
    expect(meta.length).toBeLessThan(1048576);
    const recorder = fetchRecorder(() => text(200, meta, "application/json"));
    // FAILS: "expected a PkceError, got RangeError: Maximum call stack size exceeded"
    const error = await rejection(discover(ISSUER, { clientId: "c", redirectUri: "https://app.example/cb", fetch: recorder.fetch }));
    expect(error.code).toBeDefined();
  });
});
