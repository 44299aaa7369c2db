// Loaded first on the CSP pages: records every Content-Security-Policy violation of the page on
// <html data-violations> (JSON) and in the console, where the test collects them across navigations.
(function () {
  "use strict";
  var seen = [];
  document.documentElement.setAttribute("data-violations", "[]");
  document.addEventListener("securitypolicyviolation", function (event) {
    var entry = { directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample };
    seen.push(entry);
    document.documentElement.setAttribute("data-violations", JSON.stringify(seen));
    console.error("securitypolicyviolation " + JSON.stringify(entry));
  });
})();
