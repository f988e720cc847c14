// Project form and stage form helpers; both forms work without them.
(function () {
  "use strict";
  // Say whether the investor name typed matches an existing company.
  var input = document.querySelector("input[data-company-match]");
  var hint = document.getElementById("company-match");
  if (input && hint) {
    var timer = null;
    var check = function () {
      var name = input.value.trim();
      if (!name) { hint.textContent = ""; return; }
      var url = hint.getAttribute("data-url") + "?name=" + encodeURIComponent(name);
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : {match: null}; })
        .then(function (data) { hint.textContent = data.match ? data.message : ""; })
        .catch(function () { hint.textContent = ""; });
    };
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 300);
    });
    check();
  }
  // Stage form: start on the first date to fill in.
  var first = document.querySelector("form input[type=date]");
  if (first && !document.querySelector(".is-invalid")) { first.focus(); }
  var invalid = document.querySelector(".is-invalid");
  if (invalid) { invalid.focus(); }
})();
