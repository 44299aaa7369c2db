// Loaded first on the CSP pages: records every Content-Security-Policy violation of the page on
// <html data-violations> (JSON) and in the console, where the test collects them across navigations,
// and every uncaught error or rejection on <html data-errors> (WebKit's WebDriver has no console).
(function () {
  "use strict";
  var seen = [];
  var errors = [];
  document.documentElement.setAttribute("data-violations", "[]");
  document.documentElement.setAttribute("data-errors", "[]");
  function recordError(text) {
    errors.push(String(text));
    document.documentElement.setAttribute("data-errors", JSON.stringify(errors));
  }
  window.addEventListener("error", function (event) {
    recordError(event.message);
  });
  window.addEventListener("unhandledrejection", function (event) {
    recordError(event.reason && event.reason.message ? event.reason.message : event.reason);
  });
  document.addEventListener("securitypolicyviolation", function (event) {
    var entry = { directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample };
    seen.push(entry);
    document.documentElement.setAttribute("data-violations", JSON.stringify(seen));
    console.error("securitypolicyviolation " + JSON.stringify(entry));
  });
})();
