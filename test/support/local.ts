/**
 * Small pieces the test servers and browser drivers share: a free loopback port, and an Xvfb
 * display for WebKitGTK's MiniBrowser, which has no headless mode.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Debian's Xvfb (package xvfb). */
export const XVFB = "/usr/bin/Xvfb";
/** Debian's WebDriver for WebKitGTK (package webkit2gtk-driver). */
export const WEBKIT_DRIVER = process.env.WEBKIT_WEBDRIVER_PATH ?? "/usr/bin/WebKitWebDriver";
/** WebKitGTK's MiniBrowser (package libwebkit2gtk-4.1-0, a dependency of webkit2gtk-driver). */
export const MINIBROWSER = process.env.WEBKIT_MINIBROWSER_PATH ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/**
 * An X display for MiniBrowser: a fresh Xvfb of our own when Xvfb is installed (so runs never
 * share or disturb a desktop), else the DISPLAY already there. `stop()` ends the Xvfb, if any.
 */
export async function xDisplay(): Promise<{ display: string; stop(): void; process: ChildProcess | null }> {
  if (existsSync(XVFB)) {
    const started = await startXvfb();
    return { display: started.display, process: started.process, stop: () => started.process.kill() };
  }
  const display = process.env.DISPLAY;
  if (!display) throw new Error("WebKit: MiniBrowser needs an X display and neither Xvfb (apt-get install xvfb) nor DISPLAY is there");
  return { display, process: null, stop: () => {} };
}

/** Starts Xvfb on a display it picks itself (`-displayfd`); resolves with `:N` once it is ready. */
export function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const child = spawn(XVFB, ["-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1280x1024x24"], {
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdio[3]!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (!out.includes("\n")) return;
      // Ready. Nothing more comes on the display pipe; neither pipe may keep the test process alive.
      child.stdio[3]!.destroy();
      (child.stderr as Socket).unref();
      resolve({ display: `:${out.trim()}`, process: child });
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`Xvfb exited (${code}) before it was ready: ${stderr.trim()}`)));
  });
}
