// Upload with a progress bar: the form is sent by XMLHttpRequest to the same address, and the
// server answers with the result alone, shown under the form. Without JavaScript the form is
// posted as usual and the whole page comes back with the result.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload-form]");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var box = form.querySelector("[data-upload-progress]");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-upload-progress-text]");
  var button = form.querySelector("button[type=submit]");

  function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  function showResult(html) {
    var current = document.getElementById("upload-result");
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#upload-result");
    if (current && fresh) current.replaceWith(fresh);
    if (fresh) {
      fresh.setAttribute("tabindex", "-1");
      fresh.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("action") || window.location.pathname);
    request.setRequestHeader("X-CEI-Partial", "1");
    box.hidden = false;
    button.disabled = true;
    bar.value = 0;
    text.textContent = "Starting…";
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.value = Math.round((100 * e.loaded) / e.total);
      text.textContent = megabytes(e.loaded) + " of " + megabytes(e.total) + " sent";
    });
    request.upload.addEventListener("load", function () {
      bar.removeAttribute("value");
      text.textContent = "Sent. Checking and storing the readings…";
    });
    request.addEventListener("load", function () {
      button.disabled = false;
      box.hidden = true;
      var type = request.getResponseHeader("Content-Type") || "";
      if (type.indexOf("text/html") === 0 && request.responseText.indexOf('id="upload-result"') !== -1) {
        showResult(request.responseText);
        return;
      }
      // Not the result (an error page, the login page after the session ended …): show
      // what that page says, in place of the result.
      var page = new DOMParser().parseFromString(request.responseText, "text/html");
      var main = page.querySelector("main");
      var message = main ? main.innerHTML : "The upload was refused (HTTP " + request.status + ").";
      showResult('<div id="upload-result" class="card">' + message + "</div>");
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      box.hidden = true;
      text.textContent = "";
      showResult('<div id="upload-result"><p class="flash flash-error" role="alert">The upload failed: the connection was lost. Nothing was stored; please try again.</p></div>');
    });
    request.send(new FormData(form));
  });
})();
