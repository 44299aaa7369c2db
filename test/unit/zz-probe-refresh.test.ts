import { afterEach, describe, expect, it, vi } from "vitest";
import { oauth2, refresh } from "../../src/index.ts";
import type { OAuth2Result } from "../../src/index.ts";
import { rejection } from "./helpers/errors.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";
import { goodClaims, jwt } from "./helpers/jwt.ts";

const ISSUER = "https://as.example";
const provider = oauth2({
  clientId: "my-spa",
  issuer: ISSUER,
  authorizationEndpoint: `${ISSUER}/authorize`,
  tokenEndpoint: `${ISSUER}/token`,
  redirectUri: "https://app.example/callback",
  scope: ["openid", "offline_access"],
});
const OLD = "rt-old-7Hq";
const tokens = (extra: Record<string, unknown> = {}) => ({ access_token: "at-new", token_type: "Bearer", expires_in: 300, ...extra });

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

// Same shape as tokens.test.ts's fakeLocks: one lock manager, query() lists held names.
function fakeLocks() {
  const queues = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return {
    request(name: string, options: LockOptions | (() => Promise<unknown>), callback?: () => Promise<unknown>) {
      const body = (typeof options === "function" ? options : callback)!;
      const previous = queues.get(name) ?? Promise.resolve();
      const run = previous.then(async () => {
        held.add(name);
        try {
          return await body();
        } finally {
          held.delete(name);
        }
      });
      queues.set(name, run.catch(() => {}));
      return run;
    },
    query: async () => ({ held: [...held].map((name) => ({ name })) }),
  };
}

describe("probe: refresh", () => {
  it("P1 an abort that lands while the token getter runs still sends the refresh request (token may be rotated and lost)", async () => {
    const recorder = fetchRecorder(() => json(200, tokens({ refresh_token: "rt-rotated" })));
    const controller = new AbortController();
    const getter = async () => {
      controller.abort();
      return OLD;
    };
    expect((await rejection(refresh(provider, getter, { fetch: recorder.fetch, signal: controller.signal }))).code).toBe("aborted");
    // FAILS: the refresh grant went out anyway, then was aborted; a rotating server has spent OLD.
    expect(recorder.calls).toHaveLength(0);
  });

  it("P2 a server that does not rotate: the next refresh within 10 s stalls ~10 s on the library's own spent-mark", async () => {
    vi.stubGlobal("navigator", { locks: fakeLocks() });
    const recorder = fetchRecorder(() => json(200, tokens())); // RFC 6749 6: no new refresh_token, OLD stays valid
    const stored = OLD;
    const first = await refresh(provider, () => stored, { fetch: recorder.fetch });
    expect(first.refreshToken).toBe(OLD);
    const started = Date.now();
    const second = refresh(provider, () => stored, { fetch: recorder.fetch });
    const winner = await Promise.race([second.then(() => "done"), new Promise((r) => setTimeout(() => r("stalled"), 1500))]);
    // FAILS: "stalled" - the token is marked spent by the tab itself although it is still the valid one
    expect(winner).toBe("done");
    await second;
    expect(Date.now() - started).toBeLessThan(1500);
  }, 15000);

  it("P3 concurrent string-token refreshes share one result; the second caller's claims (sub binding) are never checked", async () => {
    let answer!: (r: Response) => void;
    const recorder = fetchRecorder(() => new Promise<Response>((resolve) => (answer = resolve)));
    const earlier = goodClaims() as unknown as OAuth2Result["claims"] & object; // sub alice
    const a = refresh(provider, OLD, { fetch: recorder.fetch });
    const b = refresh(provider, OLD, { fetch: recorder.fetch, claims: earlier });
    await recorder.nextCall();
    answer(json(200, tokens({ id_token: jwt(goodClaims({ sub: "mallory", nonce: undefined })) })));
    await a;
    // FAILS: b resolves with sub "mallory" although it asked that sub stay "alice"
    expect((await rejection(b)).code).toBe("invalid_id_token");
  });

  it("P4 timeoutMs: Infinity (meant as 'no timeout') is not refused: the grant is sent, then aborted at once", async () => {
    const recorder = fetchRecorder(() => new Promise<Response>((r) => setTimeout(() => r(json(200, tokens({ refresh_token: "rt-rotated" }))), 20)));
    const error = await rejection(refresh(provider, OLD, { fetch: recorder.fetch, timeoutMs: Infinity }));
    // FAILS: code is "timeout" and one request was sent (the rotated token in its answer is thrown away)
    expect([error.code, recorder.calls.length]).toEqual(["invalid_argument", 0]);
  });
  it("P2b same page, non-rotating server, a second call that then aborts: the abort is ignored for ~10 s and the grant is still sent", async () => {
    vi.stubGlobal("navigator", { locks: fakeLocks() });
    const recorder = fetchRecorder(() => json(200, tokens()));
    await refresh(provider, () => OLD, { fetch: recorder.fetch });
    const controller = new AbortController();
    const second = refresh(provider, () => OLD, { fetch: recorder.fetch, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    const winner = await Promise.race([second.then(() => "resolved", () => "rejected"), new Promise((r) => setTimeout(() => r("still pending"), 1000))]);
    // FAILS: "still pending" - the spent-mark loop checks neither the signal nor timeoutMs
    expect.soft(winner).toBe("rejected");
    await second.catch(() => {});
    // and after the wait, the aborted call sends the grant anyway (P1): 2 calls, not 1
    expect(recorder.calls).toHaveLength(1);
  }, 15000);
  it("P5 React StrictMode pattern: refresh, abort (cleanup), refresh again at once: the second call joins the aborted request", async () => {
    const recorder = fetchRecorder((call) => new Promise<Response>((resolve, reject) => {
      call.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      setTimeout(() => resolve(json(200, tokens({ refresh_token: "rt-rotated" }))), 20);
    }));
    const first = new AbortController();
    const p1 = refresh(provider, OLD, { fetch: recorder.fetch, signal: first.signal });
    await recorder.nextCall();
    first.abort(); // effect cleanup
    const p2 = refresh(provider, OLD, { fetch: recorder.fetch }); // effect runs again, no abort
    expect((await rejection(p1)).code).toBe("aborted");
    // FAILS: p2 rejects "aborted" (it never aborted); the grant that went out was cut off, so with
    // rotation OLD is spent and the rotated token is lost
    const result = await p2.catch((e: { code?: string }) => e.code);
    expect(result).toMatchObject({ refreshToken: "rt-rotated" });
  });
});
