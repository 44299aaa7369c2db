/**
 * Vitest global setup for the unit tests in WebKit (vite.config.ts, project "browser", instance
 * "webkit"): starts Xvfb, Debian's WebKitWebDriver, and a small proxy in front of it that turns
 * the capabilities @vitest/browser-webdriverio sends for "safari" into MiniBrowser's. The proxy's
 * port is handed to the provider through `globalThis.__pkceWebKitPort` (read when it connects).
 */
import { spawn } from "node:child_process";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { freePort, MINIBROWSER, WEBKIT_DRIVER as DRIVER, xDisplay } from "./local.ts";


/** New-session capabilities as MiniBrowser takes them: its own browserName, no BiDi, automation mode. */
function rewriteCapabilities(body: string): string {
  const json = JSON.parse(body) as { capabilities?: { alwaysMatch?: Record<string, unknown>; firstMatch?: Array<Record<string, unknown>> } };
  const fix = (caps: Record<string, unknown> | undefined) => {
    if (!caps) return;
    if ("browserName" in caps) caps["browserName"] = "MiniBrowser";
    delete caps["webSocketUrl"];
    delete caps["unhandledPromptBehavior"];
    for (const key of Object.keys(caps)) if (key.startsWith("wdio:") || key.startsWith("safari:")) delete caps[key];
  };
  json.capabilities ??= {};
  json.capabilities.alwaysMatch ??= {};
  fix(json.capabilities.alwaysMatch);
  json.capabilities.firstMatch?.forEach(fix);
  json.capabilities.alwaysMatch["webkitgtk:browserOptions"] = { binary: MINIBROWSER, args: ["--automation"] };
  return JSON.stringify({ capabilities: json.capabilities });
}

export default async function setup(): Promise<() => Promise<void>> {
  const screen = await xDisplay();
  const display = screen.display;
  const driverPort = await freePort();
  const driver = spawn(DRIVER, [`--port=${driverPort}`, "--host=127.0.0.1"], { stdio: "ignore", env: { ...process.env, DISPLAY: display } });
  const proxy = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      let body = Buffer.concat(chunks).toString();
      if (req.method === "POST" && req.url === "/session") body = rewriteCapabilities(body);
      const upstream = httpRequest(
        { host: "127.0.0.1", port: driverPort, agent: false, method: req.method, path: req.url, headers: { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (error) => {
        res.writeHead(502).end(JSON.stringify({ value: { error: "unknown error", message: error.message } }));
      });
      upstream.end(body);
    });
  });
  // Vitest's own connections to the proxy must not keep the process alive after the run either.
  proxy.on("connection", (socket) => socket.unref());
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  (globalThis as { __pkceWebKitPort?: number }).__pkceWebKitPort = (proxy.address() as AddressInfo).port;
  // Ready when the driver answers.
  for (let i = 0; ; i++) {
    try {
      await fetch(`http://127.0.0.1:${driverPort}/status`);
      break;
    } catch (error) {
      if (i > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  // Vitest closes its browser sessions after the global teardown, so the driver, the proxy and
  // Xvfb stay until the process exits (they hold no event loop open).
  const stop = () => {
    driver.kill();
    screen.stop();
  };
  process.once("exit", stop);
  for (const handle of [driver, screen.process, proxy]) handle?.unref();
  return async () => {};
}
