/**
 * An e2e page that behaves like a careful app: it calls `handleCallback()` on every load, shows
 * the snapshot (status and error code), and after a sign-in follows `snapshot.returnTo` with
 * `location.assign`, as an app that restores its route would. The start form passes the text of
 * `#return-to` as `returnTo` (empty: none). The emulator's base URL comes from the demo server's
 * `<meta name="pkce-demo-emulator">`.
 */
import { createFlow, openRouter, type FlowSnapshot } from "../../../src/index.ts";
import { demoSettings } from "../../../demo/shared.ts";

const $ = (id: string) => document.getElementById(id)!;
const flow = createFlow(openRouter({ callbackUrl: `${location.origin}${location.pathname}`, baseUrl: demoSettings().emulatorUrl }));

const show = ({ status, error }: FlowSnapshot) => {
  $("status").textContent = status;
  $("status").dataset["status"] = status;
  $("error").textContent = error ? `${error.code}: ${error.message}` : "";
  $("error").dataset["code"] = error?.code ?? "none";
};
flow.subscribe(show);
show(flow.snapshot());

// Counts real loads (a back/forward cache restore does not run this again).
const loads = Number(sessionStorage.getItem("navigation:loads") ?? "0") + 1;
sessionStorage.setItem("navigation:loads", String(loads));
$("loads").textContent = String(loads);

$("start").addEventListener("submit", (event) => {
  event.preventDefault();
  const returnTo = ($("return-to") as HTMLInputElement).value;
  flow.start(returnTo ? { returnTo } : {}).catch(() => {}); // failures reach the snapshot
});
$("connect").removeAttribute("disabled");

const result = await flow.handleCallback().catch(() => null);
if (result) {
  $("result").textContent = `key ending ${result.key.slice(-4)}`;
  const { returnTo } = flow.snapshot();
  if (returnTo) location.assign(returnTo);
}
