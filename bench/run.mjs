// `npm run bench`: pkce-flow's BUILT dist/pkce-flow.js (what users get; build first) against its
// peers and the raw Web Crypto floor, plus parseCallback against bare URL parsing.
//
// Plain Node ESM, so it runs on Node 20 without a loader and needs no bench library.
//
// Method. `crypto.subtle.digest` in Node is an asynchronous job on the libuv thread pool: some
// 60-130 µs of hand-off, copying and promise work around less than 1 µs of hashing, and on a small
// shared machine that time swings by 2-5× from one second to the next. Timing each contender in its
// own block of time would mostly measure that weather. Instead the contenders of a group take turns
// batch by batch (a few ms each, order rotating), so they all see the same conditions; each round
// (ROUND_MS) yields every contender's ops/s and its ratio to the floor measured alongside it. The
// table shows medians over the rounds, the ratio's interquartile range, and for each peer in how
// many rounds pkce-flow was ahead. "CPU µs/op" is the CPU time of all this process's threads per
// call: what the work itself costs, less disturbed by other processes than the wall clock.
// Each contender's output is checked against node:crypto first.
//
//   BENCH_ROUNDS=20 BENCH_ROUND_MS=1500 node bench/run.mjs    (the defaults; about 35 s in all)
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import os from "node:os";
import * as oauth from "oauth4webapi";
import pkceChallenge from "pkce-challenge";

const DIST = new URL("../dist/pkce-flow.js", import.meta.url);
if (!existsSync(DIST)) {
  console.error("dist/pkce-flow.js is missing: run `npm run build` first (the bench measures the built file).");
  process.exit(1);
}
const lib = await import(DIST.href);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const WARMUP_MS = 300;

// ---- the floor: Web Crypto with the least JavaScript around it, no validation ----------------
const encoder = new TextEncoder();
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
// 48 bytes make 64 characters: the length of pkce-flow's default verifier (the peers default to 43).
const floorVerifier = () => b64u(crypto.getRandomValues(new Uint8Array(48)));
const floorChallenge = async (verifier) => b64u(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(verifier))));
const floorPair = async () => {
  const codeVerifier = floorVerifier();
  return { codeVerifier, codeChallenge: await floorChallenge(codeVerifier) };
};

// ---- a typical callback ------------------------------------------------------------------------
const CODE = b64u(crypto.getRandomValues(new Uint8Array(32))); // 43 characters
const STATE = b64u(crypto.getRandomValues(new Uint8Array(32))); // 43 characters
const ISSUER = "https://auth.example";
const CALLBACK = `https://app.example/callback?code=${CODE}&state=${STATE}&iss=${encodeURIComponent(ISSUER)}`;
const EXPECTED = { state: STATE, issuer: ISSUER };
const floorCallback = () => {
  const params = new URL(CALLBACK).searchParams;
  return { code: params.get("code"), state: params.get("state"), iss: params.get("iss") };
};

const FIXED_VERIFIER = floorVerifier();
const pairOf = (r) => [r.codeVerifier, r.codeChallenge];

/**
 * Groups of contenders; the `floor` of each group is the 1.00 its rows are compared with. `verifier`
 * is the verifier length each makes by default (SHA-256 takes up to 55 bytes in one block, 64 in two).
 * `share` is the group's part of each round; `batch` the calls per turn (a few ms).
 */
const GROUPS = [
  {
    name: "PKCE pair (verifier + S256 challenge)",
    share: 0.55,
    batch: 32,
    tasks: [
      { id: "ours", name: "pkce-flow `createPkcePair()`", verifier: 64, async: true, fn: () => lib.createPkcePair(), pair: pairOf },
      { id: "ours43", name: "pkce-flow `createPkcePair({ length: 43 })`", verifier: 43, async: true, fn: () => lib.createPkcePair({ length: 43 }), pair: pairOf },
      { peer: "pkce-challenge", name: "pkce-challenge 6 `pkceChallenge()`", verifier: 43, async: true, fn: () => pkceChallenge(), pair: (r) => [r.code_verifier, r.code_challenge] },
      {
        peer: "oauth4webapi",
        name: "oauth4webapi 3 `generateRandomCodeVerifier()` + `calculatePKCECodeChallenge()`",
        verifier: 43,
        async: true,
        fn: async () => {
          const codeVerifier = oauth.generateRandomCodeVerifier();
          return { codeVerifier, codeChallenge: await oauth.calculatePKCECodeChallenge(codeVerifier) };
        },
        pair: pairOf,
      },
      { floor: true, name: "floor: `getRandomValues(48)` → base64url → `digest` → base64url", verifier: 64, async: true, fn: floorPair, pair: pairOf },
    ],
  },
  {
    name: "verifier only (synchronous)",
    share: 0.1,
    batch: 256,
    tasks: [
      { name: "pkce-flow `generateCodeVerifier()`", verifier: 64, async: false, fn: () => lib.generateCodeVerifier() },
      { floor: true, name: "floor: `getRandomValues(48)` → base64url", verifier: 64, async: false, fn: floorVerifier },
    ],
  },
  {
    name: "challenge only",
    share: 0.25,
    batch: 32,
    tasks: [
      { name: "pkce-flow `createCodeChallenge(v)`", verifier: 64, async: true, fn: () => lib.createCodeChallenge(FIXED_VERIFIER) },
      { floor: true, name: "floor: `digest(v)` → base64url", verifier: 64, async: true, fn: () => floorChallenge(FIXED_VERIFIER) },
    ],
  },
  {
    name: "callback",
    share: 0.1,
    batch: 512,
    tasks: [
      { id: "callback", name: "pkce-flow `parseCallback(url, { state, issuer })`", async: false, fn: () => lib.parseCallback(CALLBACK, EXPECTED) },
      { floor: true, name: "floor: `new URL(u).searchParams.get` ×3", async: false, fn: floorCallback },
    ],
  },
];
const TASKS = GROUPS.flatMap((group) => group.tasks);

// ---- correctness first: a fast wrong answer is not a result -----------------------------------
const sha256b64u = (text) => createHash("sha256").update(text).digest("base64url");
for (const task of TASKS) {
  if (!task.pair) continue;
  const [verifier, challenge] = task.pair(await task.fn());
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || verifier.length !== task.verifier || challenge !== sha256b64u(verifier)) {
    throw new Error(`${task.name}: wrong output`);
  }
}
const parsed = lib.parseCallback(CALLBACK, EXPECTED);
if (parsed.code !== CODE || parsed.state !== STATE || parsed.iss !== ISSUER) throw new Error("parseCallback: wrong output");
if ((await lib.createCodeChallenge(FIXED_VERIFIER)) !== sha256b64u(FIXED_VERIFIER)) throw new Error("createCodeChallenge: wrong output");
if (lib.generateCodeVerifier().length !== 64 || floorVerifier().length !== 64) throw new Error("verifier: wrong length");

// ---- timing -------------------------------------------------------------------------------------
let sink; // results land here so no call can be optimised away

/** Wall-clock and CPU milliseconds (all threads of this process) for `count` sequential calls. */
async function timeBatch(task, count) {
  const { fn } = task;
  const cpu = process.cpuUsage();
  const start = performance.now();
  if (task.async) for (let i = 0; i < count; i++) sink = await fn();
  else for (let i = 0; i < count; i++) sink = fn();
  const wall = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  return [wall, (user + system) / 1000];
}

/**
 * One round of a group: its contenders take turns, `batch` calls each (the same count for all, so
 * the cost of switching is shared alike), for `ms`; ops/s and CPU µs/op of each.
 */
async function round({ tasks, batch }, ms) {
  const wall = tasks.map(() => 0);
  const cpu = tasks.map(() => 0);
  const calls = tasks.map(() => 0);
  const end = performance.now() + ms;
  for (let turn = 0; performance.now() < end; turn++) {
    for (let j = 0; j < tasks.length; j++) {
      const k = (j + turn) % tasks.length;
      const [w, c] = await timeBatch(tasks[k], batch);
      wall[k] += w;
      cpu[k] += c;
      calls[k] += batch;
    }
  }
  return tasks.map((_, k) => ({ ops: (calls[k] * 1000) / wall[k], cpuUs: (cpu[k] * 1000) / calls[k] }));
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo);
};
const median = (values) => quantile(values, 0.5);

const loadBefore = os.loadavg()[0];
const began = performance.now();
for (const group of GROUPS) await round(group, WARMUP_MS);
for (const task of TASKS) {
  task.ops = [];
  task.cpuUs = [];
}
for (let r = 0; r < ROUNDS; r++) {
  for (const group of GROUPS) {
    const ops = await round(group, ROUND_MS * group.share);
    group.tasks.forEach((task, k) => {
      task.ops.push(ops[k].ops);
      task.cpuUs.push(ops[k].cpuUs);
    });
  }
}
const seconds = (performance.now() - began) / 1000;
const loadAfter = os.loadavg()[0];

// ---- report -------------------------------------------------------------------------------------
/** Per-round ratios a / b (paired: measured side by side in the same round). */
const ratios = (a, b) => a.ops.map((ops, r) => ops / b.ops[r]);
const fmtOps = (ops) => Math.round(ops).toLocaleString("en-US");
const fmtUs = (ops) => (1e6 / ops).toFixed(ops > 1e5 ? 2 : 1);

const cpus = os.cpus();
console.log(
  `\npkce-flow bench · ${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${os.platform()} ${os.arch()} · ` +
    `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"} · dist/pkce-flow.js · ${ROUNDS} rounds · ${seconds.toFixed(0)} s · ` +
    `load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}\n`,
);
console.log("| what | verifier | ops/s | µs/op | CPU µs/op | vs floor | (IQR) |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const group of GROUPS) {
  const floor = group.tasks.find((task) => task.floor);
  console.log(`| **${group.name}** | | | | | | |`);
  for (const task of group.tasks) {
    const ops = median(task.ops);
    const rel = ratios(task, floor);
    const iqr = task.floor ? "" : `${quantile(rel, 0.25).toFixed(2)}–${quantile(rel, 0.75).toFixed(2)}`;
    const vs = task.floor ? "1.00 (floor)" : `${median(rel).toFixed(2)}× floor`;
    console.log(`| ${task.name} | ${task.verifier ?? "–"} | ${fmtOps(ops)} | ${fmtUs(ops)} | ${median(task.cpuUs).toFixed(1)} | ${vs} | ${iqr} |`);
  }
}

// ---- verdicts -----------------------------------------------------------------------------------
const pkce = GROUPS[0].tasks;
const ours = pkce.find((task) => task.id === "ours");
const ours43 = pkce.find((task) => task.id === "ours43");
const floor = pkce.find((task) => task.floor);
const peers = pkce.filter((task) => task.peer);
const lines = [];
const vsFloor = median(ratios(ours, floor));
lines.push(
  `\`createPkcePair()\` runs at ${vsFloor.toFixed(2)}× the raw floor` +
    (vsFloor < 0.9 ? ": MORE than 10% slower than the floor." : vsFloor < 1 ? " (within 10%)." : "."),
);
// "ahead" / "behind" only when the median says so by more than 2% AND at least 3 rounds in 4 agree.
const verdict = (rel) => {
  const m = median(rel);
  const won = rel.filter((x) => x > 1).length / rel.length;
  return m > 1.02 && won >= 0.75 ? "ahead" : m < 0.98 && won <= 0.25 ? "BEHIND" : "level (within noise)";
};
const verdicts = peers.map((peer) => {
  const rel = ratios(ours, peer);
  const won = rel.filter((x) => x > 1).length;
  const word = verdict(rel);
  lines.push(
    `vs ${peer.peer}: ${median(rel).toFixed(2)}×, ${word} (ahead in ${won} of ${rel.length} rounds); ` +
      `at the same verifier length (43): ${median(ratios(ours43, peer)).toFixed(2)}×, ${verdict(ratios(ours43, peer))}.`,
  );
  return word;
});
lines.push(
  `pkce-flow \`createPkcePair()\` is ${verdicts.every((word) => word === "ahead") ? "ahead of every peer" : "NOT ahead of every peer"} in this run.`,
);
const callback = TASKS.find((task) => task.id === "callback");
const callbackFloor = GROUPS[3].tasks.find((task) => task.floor);
lines.push(`\`parseCallback\` runs at ${median(ratios(callback, callbackFloor)).toFixed(2)}× bare URL parsing (it also checks duplicates, syntax, foreign parameters, iss and state).`);
// This run itself adds about 0.7 to the 1-minute load average by its end (one busy core, plus the
// thread pool), so the figure before the run says more about other work on the machine.
if (loadBefore > cpus.length * 0.5 || loadAfter > cpus.length) {
  lines.push(`WARNING: the machine was busy (1-minute load average up to ${Math.max(loadBefore, loadAfter).toFixed(1)} on ${cpus.length} cores); figures are noisy, run again when it is idle.`);
}
console.log(`\n${lines.map((line) => `- ${line}`).join("\n")}`);
if (sink === Symbol.for("never")) console.log(sink);
