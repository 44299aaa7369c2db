// The demo with the <script> build only: everything comes from window.PkceFlow.
(function () {
  var PkceFlow = window.PkceFlow;
  var meta = document.querySelector('meta[name="pkce-demo-emulator"]');
  var baseUrl = new URL((meta && meta.content) || "/openrouter", location.origin).href.replace(/\/$/, "");
  var flow = PkceFlow.createFlow(
    PkceFlow.openRouter({ callbackUrl: location.origin + location.pathname, baseUrl: baseUrl })
  );
  var status = document.getElementById("status");
  var error = document.getElementById("error");

  flow.subscribe(function (snapshot) {
    status.textContent = snapshot.status;
    status.dataset.status = snapshot.status;
    error.textContent = snapshot.error ? snapshot.error.code + ": " + snapshot.error.message : "";
    error.dataset.code = snapshot.error ? snapshot.error.code : "";
  });

  document.getElementById("settings").addEventListener("submit", function (event) {
    event.preventDefault();
    var label = document.getElementById("key-label").value.trim();
    var options = { callbackUrl: location.origin + location.pathname, baseUrl: baseUrl };
    if (label) options.keyLabel = label;
    PkceFlow.createFlow(PkceFlow.openRouter(options)).start().catch(function (e) {
      error.textContent = e.code + ": " + e.message;
      error.dataset.code = e.code || "unknown";
    });
  });

  flow.handleCallback().then(function (result) {
    if (!result) return;
    document.getElementById("result").hidden = false;
    document.getElementById("key").textContent = result.key.slice(0, 12) + "\u2026" + result.key.slice(-4);
  }, function () { /* shown through the subscription */ });
})();
