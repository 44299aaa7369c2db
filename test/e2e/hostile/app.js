// Shared by the hostile-environment pages (test/e2e/hostile.test.ts). A classic script: no inline
// code, no eval, no HTML strings, so it runs under `script-src 'self'` and Trusted Types.
// It defines window.hostileApp(lib); a boot script calls it with the IIFE global or the ESM module.
(function () {
  "use strict";

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : "";
  }

  window.hostileApp = function hostileApp(lib) {
    var navigated = [];
    var status = document.getElementById("status");
    var flow = lib.createFlow(
      lib.openRouter({ callbackUrl: meta("callback") || location.origin + location.pathname, baseUrl: meta("emulator") }),
      {
        navigate: function (url) {
          navigated.push(url);
          location.assign(url);
        },
      },
    );

    function show(value, code) {
      status.textContent = code ? value + ": " + code : value;
      if (code) status.setAttribute("data-code", code);
      status.setAttribute("data-status", value);
    }

    function pkceKeys() {
      try {
        return Object.keys(sessionStorage).filter(function (key) {
          return key.indexOf("pkce-flow:") === 0;
        });
      } catch (error) {
        return null;
      }
    }

    // Starts the flow; resolves with what happened instead of navigating when start() fails.
    function start() {
      var before = location.href;
      return flow.start().then(
        function () {
          return { error: null, navigated: navigated.slice() };
        },
        function (error) {
          var result = {
            error: lib.isPkceError(error) ? error.code : String(error),
            name: error && error.name,
            navigated: navigated.slice(),
            hrefUnchanged: location.href === before,
            pkceKeys: pkceKeys(),
          };
          show("failed", result.error);
          return result;
        },
      );
    }

    document.getElementById("connect").addEventListener("click", function () {
      start();
    });

    if (/[?&](code|error)=/.test(location.search)) {
      flow.handleCallback().then(
        function (result) {
          if (result === null) return show("idle");
          document.getElementById("key").textContent = result.key;
          show("authorized");
        },
        function (error) {
          show("failed", lib.isPkceError(error) ? error.code : String(error));
        },
      );
    } else {
      show("idle");
    }

    window.hostile = { start: start, pkceKeys: pkceKeys };
  };
})();
