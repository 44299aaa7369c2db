/**
 * Smoke test of the oidc-provider harness (demo/oidc/server.ts), without the library: proves the
 * server offers what `discover()` / `oauth2()` and `parseCallback()` need (discovery metadata,
 * S256, RFC 9207 `iss`, a cross-origin token endpoint) using hand-built requests in real Chromium,
 * Firefox and WebKit.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startOidcServer, type OidcServer } from "../../demo/oidc/server.ts";
import { forEachEngine, inOneEngine, type EnginePage } from "../support/engine.ts";
import { cancelOidcConsent, completeOidcLogin } from "../support/oidc-login.ts";

interface TokenReply {
  status: number;
  body: Record<string, unknown>;
}

const b64url = (bytes: Buffer): string => bytes.toString("base64url");

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = b64url(randomBytes(48)); // 64 chars from the unreserved set
  return { verifier, challenge: b64url(createHash("sha256").update(verifier, "ascii").digest()) };
}

async function startApp(): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? "/", "http://app.invalid");
    if (pathname === "/callback") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end('<!doctype html><html><head><meta charset="utf-8"><title>callback</title></head><body>callback</body></html>');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stopServer(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

describe("oidc-provider harness", () => {
  let app: { origin: string; server: Server };
  let oidc: OidcServer;
  let redirectUri: string;
  let discovery: Record<string, unknown>;

  beforeAll(async () => {
    app = await startApp();
    redirectUri = `${app.origin}/callback`;
    oidc = await startOidcServer({ redirectUris: [redirectUri] });
    const response = await fetch(`${oidc.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    discovery = (await response.json()) as Record<string, unknown>;
  });

  afterAll(async () => {
    await Promise.all([oidc?.close(), app && stopServer(app.server)]);
  });

  // No browser in this one: once, outside the engines.
  it("mutateDiscovery rewrites only the served discovery document", async () => {
    const tampered = await startOidcServer({
      redirectUris: [redirectUri],
      issuerPath: "/tenant",
      mutateDiscovery: (doc) => ({
        ...doc,
        issuer: "http://127.0.0.1:1/evil",
        code_challenge_methods_supported: ["plain"],
        token_endpoint: "http://auth.example.com/token",
      }),
    });
    try {
      expect(tampered.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tenant$/);
      const doc = (await (await fetch(`${tampered.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(doc.issuer).toBe("http://127.0.0.1:1/evil");
      expect(doc.code_challenge_methods_supported).toEqual(["plain"]);
      expect(doc.token_endpoint).toBe("http://auth.example.com/token");
      // Untouched fields still come from the provider, mounted under issuerPath.
      expect(doc.authorization_endpoint).toBe(`${tampered.issuer}/auth`);

      tampered.setMutateDiscovery(undefined);
      const plain = (await (await fetch(`${tampered.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(plain.issuer).toBe(tampered.issuer);
      expect(plain.code_challenge_methods_supported).toEqual(["S256"]);
      expect(plain.token_endpoint).toBe(`${tampered.issuer}/token`);
    } finally {
      await tampered.close();
    }
    // The shared server was never affected.
    const shared = (await (await fetch(`${oidc.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(shared.issuer).toBe(oidc.issuer);
  });

  forEachEngine((engine) => {
    let page: EnginePage;
    beforeEach(async () => {
      // A fresh context per test: no session or grant carried over, so login + consent always show.
      page = await engine.newPage();
    });

    function authorizationUrl(params: { state: string; challenge: string; scope?: string; prompt?: string }): string {
      const url = new URL(discovery.authorization_endpoint as string);
      url.search = new URLSearchParams({
        response_type: "code",
        client_id: oidc.clientId,
        redirect_uri: redirectUri,
        scope: params.scope ?? "openid",
        state: params.state,
        code_challenge: params.challenge,
        code_challenge_method: "S256",
        ...(params.prompt === undefined ? {} : { prompt: params.prompt }),
      }).toString();
      return url.href;
    }

    const onCallback = (url: URL): boolean => url.origin === app.origin && url.pathname === "/callback";

    /** POSTs the token request from the app page (cross-origin to the issuer), like the library will. */
    function tokenRequestFromPage(form: Record<string, string>): Promise<TokenReply> {
      return page.evaluate(
        async ({ endpoint, form }) => {
          const response = await fetch(endpoint, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(form),
            credentials: "omit",
            cache: "no-store",
            redirect: "manual",
          });
          // Reading the body at all proves the CORS check passed (Access-Control-Allow-Origin itself
          // is not exposed to scripts).
          return { status: response.status, body: (await response.json()) as Record<string, unknown> };
        },
        { endpoint: discovery.token_endpoint as string, form },
      );
    }

    async function authorize(scope = "openid", prompt?: string): Promise<{ url: URL; state: string; verifier: string }> {
      const state = b64url(randomBytes(16));
      const { verifier, challenge } = pkcePair();
      await page.goto(authorizationUrl({ state, challenge, scope, ...(prompt === undefined ? {} : { prompt }) }));
      const url = await completeOidcLogin(page, { login: "alice", callbackUrl: onCallback });
      return { url: url!, state, verifier };
    }

    it("serves discovery, completes login + consent with iss, and exchanges the code cross-origin", async () => {
      expect(discovery.issuer).toBe(oidc.issuer);
      expect(oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(discovery.authorization_endpoint).toBe(`${oidc.issuer}/auth`);
      expect(discovery.token_endpoint).toBe(`${oidc.issuer}/token`);
      expect(discovery.jwks_uri).toBe(`${oidc.issuer}/jwks`);
      expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
      expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
      expect(discovery.response_types_supported).toEqual(["code"]);
      expect(discovery.token_endpoint_auth_methods_supported).toContain("none");
      expect(discovery.scopes_supported).toEqual(expect.arrayContaining(["openid", "profile", "email"]));

      const { url, state, verifier } = await authorize();
      expect(url.searchParams.get("state")).toBe(state);
      expect(url.searchParams.get("iss")).toBe(oidc.issuer);
      expect(url.searchParams.get("error")).toBeNull();
      const code = url.searchParams.get("code");
      expect(code).toBeTruthy();

      const reply = await tokenRequestFromPage({
        grant_type: "authorization_code",
        code: code!,
        redirect_uri: redirectUri,
        client_id: oidc.clientId,
        code_verifier: verifier,
      });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ token_type: "Bearer", scope: "openid" });
      expect(typeof reply.body.access_token).toBe("string");
      expect(typeof reply.body.id_token).toBe("string");
      expect(typeof reply.body.expires_in).toBe("number");
      expect(reply.body.refresh_token).toBeUndefined();
      const idClaims = JSON.parse(Buffer.from((reply.body.id_token as string).split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
      expect(idClaims).toMatchObject({ iss: oidc.issuer, aud: oidc.clientId, sub: "alice" });

      // The code is single-use.
      const again = await tokenRequestFromPage({
        grant_type: "authorization_code",
        code: code!,
        redirect_uri: redirectUri,
        client_id: oidc.clientId,
        code_verifier: verifier,
      });
      expect(again.status).toBe(400);
      expect(again.body.error).toBe("invalid_grant");
    });

    inOneEngine(engine, "these check the test server's own answers, the same whichever browser asks", () => {
      it("rejects a wrong code_verifier with 400 invalid_grant (readable cross-origin)", async () => {
        const { url } = await authorize();
        const reply = await tokenRequestFromPage({
          grant_type: "authorization_code",
          code: url.searchParams.get("code")!,
          redirect_uri: redirectUri,
          client_id: oidc.clientId,
          code_verifier: pkcePair().verifier,
        });
        expect(reply.status).toBe(400);
        expect(reply.body.error).toBe("invalid_grant");

        // CORS is granted per client to the redirect URIs' origins only (checked from node, where the
        // Origin header can be forged and the response headers read).
        const probe = async (origin: string) => {
          const response = await fetch(discovery.token_endpoint as string, {
            method: "POST",
            headers: { origin, "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ grant_type: "authorization_code", code: "x", redirect_uri: redirectUri, client_id: oidc.clientId, code_verifier: pkcePair().verifier }),
          });
          return { status: response.status, allowOrigin: response.headers.get("access-control-allow-origin"), body: (await response.json()) as Record<string, unknown> };
        };
        expect(await probe(app.origin)).toMatchObject({ status: 400, allowOrigin: app.origin, body: { error: "invalid_grant" } });
        expect(await probe("http://evil.test")).toMatchObject({ status: 400, allowOrigin: null, body: { error: "invalid_request" } });
      });

      it("returns error=access_denied (with state and iss) when the user cancels at consent", async () => {
        const state = b64url(randomBytes(16));
        await page.goto(authorizationUrl({ state, challenge: pkcePair().challenge }));
        const url = (await cancelOidcConsent(page, { callbackUrl: onCallback }))!;
        expect(url.searchParams.get("error")).toBe("access_denied");
        expect(url.searchParams.get("state")).toBe(state);
        expect(url.searchParams.get("iss")).toBe(oidc.issuer);
        expect(url.searchParams.get("code")).toBeNull();
      });

      it("issuerPath + offlineAccess: the full flow works under a path and yields a refresh_token", async () => {
        const offline = await startOidcServer({ redirectUris: [redirectUri], offlineAccess: true, issuerPath: "/op" });
        try {
          expect(offline.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/op$/);
          const state = b64url(randomBytes(16));
          const { verifier, challenge } = pkcePair();
          const auth = new URL(`${offline.issuer}/auth`);
          auth.search = new URLSearchParams({
            response_type: "code",
            client_id: offline.clientId,
            redirect_uri: redirectUri,
            scope: "openid profile email offline_access",
            prompt: "consent",
            state,
            code_challenge: challenge,
            code_challenge_method: "S256",
          }).toString();
          await page.goto(auth.href);
          const url = (await completeOidcLogin(page, { login: "bob", callbackUrl: onCallback }))!;
          expect(url.searchParams.get("iss")).toBe(offline.issuer);
          const reply = await page.evaluate(
            async ({ endpoint, form }) => {
              const response = await fetch(endpoint, { method: "POST", body: new URLSearchParams(form) });
              return { status: response.status, body: (await response.json()) as Record<string, unknown> };
            },
            {
              endpoint: `${offline.issuer}/token`,
              form: { grant_type: "authorization_code", code: url.searchParams.get("code")!, redirect_uri: redirectUri, client_id: offline.clientId, code_verifier: verifier },
            },
          );
          expect(reply.status).toBe(200);
          expect(typeof reply.body.refresh_token).toBe("string");
          expect(String(reply.body.scope).split(" ").sort()).toEqual(["email", "offline_access", "openid", "profile"]);

          // The userinfo claims come from findAccount.
          const userinfo = await fetch(`${offline.issuer}/me`, { headers: { authorization: `Bearer ${reply.body.access_token as string}` } });
          expect(await userinfo.json()).toEqual({ sub: "bob", name: "bob", email: "bob@example.test" });
        } finally {
          await offline.close();
        }
      });
    });
  });
});
