import { afterEach, describe, expect, it } from "vitest";
import { TokenError, createFlow, openRouter } from "../../src/index.ts";
import { rejection } from "./helpers/errors.ts";
import { fetchRecorder, json } from "./helpers/fetch.ts";

afterEach(() => sessionStorage.clear());

describe("probe: redaction order", () => {
  it("R1 headless paste of a 1-character code: blanking the code first splits the verifier's echo, which then leaks in pieces", async () => {
    const recorder = fetchRecorder(async (call) => json(400, { error: { code: 400, message: `bad request ${await call.body}` } }));
    const flow = createFlow(openRouter({ headless: true, baseUrl: "https://openrouter.example" }), { fetch: recorder.fetch });
    await flow.authorize();
    const [tx] = Object.keys(sessionStorage).map((k) => JSON.parse(sessionStorage.getItem(k)!));
    const verifier: string = tx.codeVerifier;
    // The user pastes one character (a slip of the mouse); here one that occurs in the verifier
    // (chosen so that the verifier's longest run without it is longest).
    const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
    const longest = (c: string) => Math.max(...verifier.split(new RegExp(esc(c), "i")).map((p) => p.length));
    const pasted = [...verifier].sort((a, b) => longest(b) - longest(a))[0]!;
    const error = (await rejection(flow.exchangeCode(pasted))) as TokenError;
    expect(error).toBeInstanceOf(TokenError);
    const text = `${error.message}\n${error.errorDescription}`;
    const pieces = verifier.split(new RegExp(esc(pasted), "i")).filter((p) => p.length >= 8);
    expect(pieces.length).toBeGreaterThan(0);
    // FAILS: the errorDescription carries the verifier minus the pasted character, e.g. `"code_verifier":"abc…[redacted]…xyz"`
    for (const piece of pieces) expect(text).not.toContain(piece);
  });
});
