// Starts Swagger UI on /docs (templates/swagger_ui.html) without an inline script.
// "Try it out" from a signed-in browser is authenticated by the session cookie, which the
// API accepts for a state change only together with the session's CSRF token in the
// X-CSRFToken header: this adds it to every request to this origin (and to no other).
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = meta ? meta.getAttribute("content") : "";

  function addCsrfHeader(request) {
    var target = new URL(request.url, window.location.href);
    if (target.origin === window.location.origin && csrfToken) {
      request.headers["X-CSRFToken"] = csrfToken;
    }
    return request;
  }

  window.addEventListener("load", function () {
    window.ui = window.SwaggerUIBundle({
      url: container.getAttribute("data-spec-url"),
      dom_id: "#swagger-ui-container",
      requestInterceptor: addCsrfHeader
    });
  });
})();
