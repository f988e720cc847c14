// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Ask before destructive actions: <form data-confirm="message">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // Show that a long-running submit is under way and prevent double submits.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var form = event.target;
    var button = form.querySelector("button[type=submit][data-busy]");
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      button.textContent = button.getAttribute("data-busy");
    }
  });
})();
