// filiation web explorer: shared helpers and the search suggestions.
// Loaded as a file (no inline script) so that the strict Content-Security-Policy holds.
"use strict";

(function () {
  var body = document.body;
  var F = (window.filiation = {});
  F.lang = body.dataset.lang || "en";
  F.root = body.dataset.root || "";
  var texts = null;
  var loading = null;

  // Translations: the same file as the server's (/i18n/{lang}.json).
  F.ready = function () {
    if (!loading) {
      loading = fetch(F.root + "/i18n/" + F.lang + ".json")
        .then(function (r) { return r.json(); })
        .then(function (data) { texts = data; return data; });
    }
    return loading;
  };
  F.t = function (key, values) {
    var known = texts && Object.prototype.hasOwnProperty.call(texts, key);
    // A key missing from the catalogue would show as "kind.group" on the page: said in the
    // console, where the browser tests (which allow no warning) see it.
    if (texts && !known && window.console) { console.warn("filiation: no text for " + key + " in " + F.lang + ".json"); }
    var text = known ? texts[key] : key;
    // A plural message: one text per CLDR category, chosen by the browser's own CLDR rules.
    if (typeof text === "object") {
      var count = values && values.count !== undefined ? values.count : null;
      text = (count === null ? null : text[plurals.select(count)]) || text.other;
      if (!values || values.n === undefined) { values = Object.assign({}, values, { n: F.num(count) }); }
    }
    return text.replace(/\{(\w+)\}/g, function (m, name) {
      return values && values[name] !== undefined ? String(values[name]) : m;
    });
  };
  var plurals = new Intl.PluralRules(F.lang);
  var fmt = new Intl.NumberFormat(F.lang === "fr" ? "fr-FR" : "en-US");
  F.num = function (n) { return n === null || n === undefined ? "—" : fmt.format(n); };
  // An id written into `e` with a break opportunity after each separator (/ - _ .) only, so
  // that a narrow box (a phone, the graph's side panel) wraps it between words, never inside,
  // nor after the point of a version number ("3.1"): as the pages' `breakable` filter does.
  F.breakable = function (e, id) {
    e.textContent = "";
    String(id).split(/(?<=[-_/])|(?<=(?<!\d)\.)|(?<=\.)(?!\d)/).forEach(function (part) {
      e.appendChild(document.createTextNode(part));
      e.appendChild(document.createElement("wbr"));
    });
    return e;
  };
  // Ids keep their slashes; every other special character is escaped.
  F.encId = function (id) { return id.split("/").map(encodeURIComponent).join("/"); };
  F.api = function (path, params) {
    var q = params ? new URLSearchParams(params).toString() : "";
    return fetch(F.root + "/api/" + path + (q ? "?" + q : ""), { headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      });
  };
  F.page = function (kind, id) {
    var folder = { model: "models", dataset: "datasets", author: "authors" }[kind] || "models";
    return F.root + "/" + F.lang + "/" + folder + "/" + F.encId(id);
  };
  // Elements are built with textContent only: ids and card text are never parsed as HTML.
  F.el = function (tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; }
      else if (k === "class") { e.className = attrs[k]; }
      else if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return e;
  };

  // -- suggestions as one types ------------------------------------------------------------
  function suggest(input) {
    var list = document.getElementById(input.dataset.suggest);
    var timer = null, seq = 0, active = -1;

    function close() { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
    function items() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }
    function mark(i) {
      var opts = items();
      opts.forEach(function (o, j) { o.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (opts[i]) { input.setAttribute("aria-activedescendant", opts[i].id); }
    }
    function show(hits) {
      list.textContent = "";
      if (!hits.length) {
        list.appendChild(F.el("li", { class: "none", text: F.t("suggest.none") }));
      }
      hits.forEach(function (h, i) {
        var a = F.el("a", { href: F.page(h.kind, h.id), tabindex: "-1" }, [
          F.el("span", { class: "dot kind-" + h.kind, "aria-hidden": "true" }),
          F.breakable(F.el("span", { class: "sid" }), h.id),
          F.el("span", { class: "badge", text: F.t("kind." + h.kind) }),
          F.el("span", { class: "meta", text: F.t("node.downloads_short", { count: h.downloads }) }),
        ]);
        list.appendChild(F.el("li", { role: "option", id: list.id + "-" + i, class: "suggestion", "aria-selected": "false" }, [a]));
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }
    function query() {
      var text = input.value.trim();
      var mine = ++seq;
      if (text.length < 2) { close(); return; }
      Promise.all([F.ready(), F.api("search", { q: text, limit: 8 })]).then(function (res) {
        if (mine === seq) { show(res[1]); }
      }).catch(close);
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(query, 120); });
    input.addEventListener("keydown", function (ev) {
      var opts = items();
      if (list.hidden || !opts.length) { return; }
      if (ev.key === "ArrowDown") { mark(Math.min(opts.length - 1, active + 1)); ev.preventDefault(); }
      else if (ev.key === "ArrowUp") { mark(Math.max(0, active - 1)); ev.preventDefault(); }
      else if (ev.key === "Enter" && active >= 0) { window.location.href = opts[active].querySelector("a").href; ev.preventDefault(); }
      else if (ev.key === "Escape") { close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 200); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), suggest);
})();
