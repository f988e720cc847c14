// Visit, contact and inquiry forms: company suggestions, the chosen company's projects and
// contacts, and the region suggested from the city. Every form works without this script.
(function () {
  "use strict";

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, wait);
    };
  }

  function getJSON(url, done) {
    var request = new XMLHttpRequest();
    request.open("GET", url);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status === 200) {
        try { done(JSON.parse(request.responseText)); } catch (e) { /* ignore */ }
      }
    };
    request.send();
  }

  function setOptions(select, items, keep) {
    if (!select) { return; }
    var chosen = {};
    Array.prototype.forEach.call(select.options, function (option) {
      if (option.selected) { chosen[option.value] = option.text; }
    });
    while (select.options.length) { select.remove(0); }
    (keep || []).forEach(function (pair) { select.add(new Option(pair[1], pair[0])); });
    var seen = {};
    items.forEach(function (item) {
      seen[String(item.id)] = true;
      var option = new Option(item.name, item.id);
      option.selected = Object.prototype.hasOwnProperty.call(chosen, String(item.id));
      select.add(option);
    });
    Object.keys(chosen).forEach(function (value) {
      if (!seen[value] && value !== "" && !(keep || []).some(function (p) { return p[0] === value; })) {
        var option = new Option(chosen[value], value);
        option.selected = true;
        select.add(option);
      }
    });
  }

  // --- company picker (visit, contact and inquiry forms) -----------------------------------
  function initCompanyPicker(box) {
    var input = box.querySelector("[data-company-input]");
    var hidden = box.querySelector("input[type=hidden][name=company_id]");
    var list = box.querySelector("datalist");
    var create = box.querySelector("input[name=create_company]");
    if (!input || !hidden || !list) { return; }
    var known = {};
    var url = box.getAttribute("data-suggest-url");

    var suggest = debounce(function () {
      var q = input.value.trim();
      if (!q) { return; }
      getJSON(url + "?q=" + encodeURIComponent(q), function (data) {
        known = {};
        while (list.firstChild) { list.removeChild(list.firstChild); }
        (data.items || []).forEach(function (item) {
          known[item.name] = item.id;
          var option = document.createElement("option");
          option.value = item.name;
          list.appendChild(option);
        });
        choose();
      });
    }, 250);

    function choose() {
      var id = known[input.value.trim()];
      var previous = hidden.value;
      hidden.value = id ? String(id) : "";
      if (create && id) { create.checked = false; }
      if (hidden.value !== previous) {
        box.dispatchEvent(new CustomEvent("company-chosen", { bubbles: true, detail: { id: hidden.value } }));
      }
    }

    input.addEventListener("input", function () { choose(); suggest(); });
    input.addEventListener("change", choose);
  }

  // --- the visit form ------------------------------------------------------------------------
  function normalizePlace(text) {
    var value = (text || "").replace(/\s+/g, "");
    var suffixes = ["维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "自治州", "地区", "省", "市"];
    for (var i = 0; i < suffixes.length; i++) {
      var s = suffixes[i];
      if (value.length > s.length && value.slice(-s.length) === s) { return value.slice(0, -s.length); }
    }
    return value;
  }

  function initVisitForm(form) {
    var cities = JSON.parse(form.getAttribute("data-region-cities") || "{}");
    var provinces = JSON.parse(form.getAttribute("data-region-provinces") || "{}");
    var city = form.querySelector("[name=city]");
    var province = form.querySelector("[name=province]");
    var region = form.querySelector("[name=region]");
    var projects = form.querySelector("[name=project_ids]");
    var contacts = form.querySelector("[name=contact_ids]");
    var optionsUrl = form.getAttribute("data-options-url");
    function suggestion() {
      var c = normalizePlace(city && city.value);
      var match = /^(.+?(?:省|自治区|特别行政区))(.+)$/.exec((city && city.value) || "");
      var p = normalizePlace((province && province.value) || (match ? match[1] : ""));
      if (match) { c = normalizePlace(match[2]); }
      return cities[c] || provinces[c] || provinces[p] || "";
    }
    // The region follows the place until the officer picks another one by hand.
    var autoRegion = region && (region.value === "" || region.value === suggestion());

    function suggestRegion() {
      if (region && autoRegion) { region.value = suggestion(); }
    }
    if (region) {
      region.addEventListener("change", function () {
        autoRegion = region.value === "" || region.value === suggestion();
      });
    }
    [city, province].forEach(function (el) {
      if (el) { el.addEventListener("input", suggestRegion); }
    });

    function syncStepProjects() {
      if (!projects) { return; }
      var chosen = Array.prototype.filter.call(projects.options, function (o) { return o.selected; });
      form.querySelectorAll("select.step-project").forEach(function (select) {
        var current = select.value;
        var fixed = Array.prototype.slice.call(select.options, 0, 2).map(function (o) { return [o.value, o.text]; });
        while (select.options.length) { select.remove(0); }
        fixed.forEach(function (pair) { select.add(new Option(pair[1], pair[0])); });
        chosen.forEach(function (o) { select.add(new Option(o.text, o.value)); });
        select.value = current;
        if (select.value !== current) { select.value = ""; }
      });
    }
    if (projects) { projects.addEventListener("change", syncStepProjects); }

    form.addEventListener("company-chosen", function (event) {
      var id = event.detail.id;
      if (!id) { return; }
      getJSON(optionsUrl.replace(/\/0$/, "/" + id), function (data) {
        setOptions(projects, data.projects || []);
        setOptions(contacts, data.contacts || []);
        syncStepProjects();
      });
    });
  }

  document.querySelectorAll(".company-picker").forEach(initCompanyPicker);
  var visitForm = document.getElementById("visit-form");
  if (visitForm) { initVisitForm(visitForm); }
})();
