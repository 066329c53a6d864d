/* Tifa pages: chart tooltips, and the embed postMessage protocol (docs/embedding.md).
   No dependencies. Text from the page is only ever moved with textContent / cloneNode,
   never parsed as HTML. */
(function () {
  "use strict";

  var body = document.body;
  var cfg = {
    embed: body.getAttribute("data-embed") === "1",
    origins: (body.getAttribute("data-origins") || "").split(" ").filter(Boolean),
    embedSearch: body.getAttribute("data-embed-search") || "",
    theme: body.getAttribute("data-theme-param") || ""
  };

  /* ---- on a phone, filters start folded unless some are active ---- */
  if (window.matchMedia && window.matchMedia("(max-width: 640px)").matches) {
    var boxes = document.querySelectorAll("details.filterbox[data-collapse-narrow='1']");
    for (var b = 0; b < boxes.length; b++) boxes[b].open = false;
  }

  /* ---- chart tooltips: hover or focus a year column ---- */
  function setupChart(fig) {
    var current = null;
    function place(col, tip) {
      var box = fig.getBoundingClientRect();
      var r = col.getBoundingClientRect();
      tip.hidden = false;
      var left = r.left - box.left + r.width / 2 - tip.offsetWidth / 2;
      left = Math.max(4, Math.min(left, box.width - tip.offsetWidth - 4));
      tip.style.left = left + "px";
      tip.style.top = Math.max(0, r.top - box.top + 8) + "px";
    }
    function show(col) {
      hide();
      var tip = document.getElementById(col.getAttribute("data-tip"));
      if (!tip) return;
      col.classList.add("active");
      current = { col: col, tip: tip };
      place(col, tip);
    }
    function hide() {
      if (!current) return;
      current.tip.hidden = true;
      current.col.classList.remove("active");
      current = null;
    }
    var cols = fig.querySelectorAll(".col");
    for (var i = 0; i < cols.length; i++) {
      cols[i].addEventListener("mouseenter", function (e) { show(e.currentTarget); });
      cols[i].addEventListener("focus", function (e) { show(e.currentTarget); });
      cols[i].addEventListener("mouseleave", hide);
      cols[i].addEventListener("blur", hide);
    }
    fig.addEventListener("keydown", function (e) {
      if (e.key === "Escape") hide();
    });
  }
  var charts = document.querySelectorAll("[data-chart]");
  for (var c = 0; c < charts.length; c++) setupChart(charts[c]);

  /* ---- embedding ---- */
  var framed = window.parent && window.parent !== window;
  if (!cfg.embed || !framed) return;

  var self = window.location.origin;
  function allowed(origin) {
    return origin === self || cfg.origins.indexOf(origin) !== -1;
  }
  function parentOrigin() {
    try {
      if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) {
        return window.location.ancestorOrigins[0];
      }
    } catch (e) { /* not supported */ }
    try {
      if (document.referrer) return new URL(document.referrer).origin;
    } catch (e) { /* no usable referrer */ }
    return null;
  }
  var host = parentOrigin();
  function post(message) {
    /* Only ever to an allowed origin: the browser drops a message whose target origin
       is not the parent's, so when the parent is unknown each allowed origin is tried. */
    var targets = host && allowed(host) ? [host] : (host ? [] : cfg.origins.concat([self]));
    for (var i = 0; i < targets.length; i++) {
      try { window.parent.postMessage(message, targets[i]); } catch (e) { /* ignore */ }
    }
  }

  var lastHeight = -1;
  function reportHeight() {
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h !== lastHeight) {
      lastHeight = h;
      post({ type: "tifa:height", height: h });
    }
  }
  if (window.ResizeObserver) {
    new ResizeObserver(reportHeight).observe(document.documentElement);
  }
  window.addEventListener("load", reportHeight);
  window.addEventListener("resize", reportHeight);
  reportHeight();
  post({ type: "tifa:ready", href: window.location.href });

  /* Selecting a hit: a plain click on a KWIC line selects it and tells the host;
     a modified click (Ctrl, Cmd, Shift, middle button) opens the statement as usual. */
  document.addEventListener("click", function (e) {
    var line = e.target && e.target.closest ? e.target.closest(".kwic-line") : null;
    if (!line || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button !== 0) return;
    e.preventDefault();
    var prev = document.querySelectorAll(".kwic-line[aria-current], .hit.selected");
    for (var i = 0; i < prev.length; i++) {
      prev[i].removeAttribute("aria-current");
      prev[i].classList.remove("selected");
    }
    line.setAttribute("aria-current", "true");
    var hit = line.closest(".hit");
    if (hit) hit.classList.add("selected");
    post({
      type: "tifa:hit",
      id: line.getAttribute("data-hit-id"),
      passage: parseInt(line.getAttribute("data-passage"), 10)
    });
  });

  var FILTERS = ["year", "source", "kind", "lang", "speaker", "series", "date", "as_of", "sort", "limit"];
  window.addEventListener("message", function (e) {
    if (e.source !== window.parent || !allowed(e.origin)) return;
    var data = e.data;
    if (!data || typeof data !== "object" || data.type !== "tifa:search") return;
    var params = new URLSearchParams();
    if (typeof data.q === "string") params.set("q", data.q);
    var filters = data.filters && typeof data.filters === "object" ? data.filters : {};
    for (var i = 0; i < FILTERS.length; i++) {
      var v = filters[FILTERS[i]];
      if (v !== undefined && v !== null && String(v) !== "") params.set(FILTERS[i], String(v));
    }
    if (cfg.theme) params.set("theme", cfg.theme);
    var qs = params.toString();
    window.location.assign(cfg.embedSearch + (qs ? "?" + qs : ""));
  });
})();
