/* Task detail page: the health strips (server-drawn SVG). Hovering or focusing a segment shows its
 * state and its times, in the viewer's local time, in the #health-tip box under the strip; the
 * arrow keys move between segments. No data is fetched: everything is in the page. */
(function () {
  "use strict";

  var tip = document.getElementById("health-tip");
  var wordsEl = document.getElementById("health-words");
  if (!tip || !wordsEl) return;
  var words = JSON.parse(wordsEl.textContent);
  var lang = document.documentElement.lang || undefined;
  var formatter;
  try {
    formatter = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) {
    formatter = null;
  }

  function local(iso) {
    var date = new Date(iso);
    return formatter && !isNaN(date) ? formatter.format(date) : iso;
  }

  function lasting(seconds) {
    var s = Number(seconds) || 0;
    function part(n, unit) { return n + " " + words[unit]; }
    if (s >= 86400) return part(Math.floor(s / 86400), "d") + " " + part(Math.floor((s % 86400) / 3600), "h");
    if (s >= 3600) return part(Math.floor(s / 3600), "h") + " " + part(Math.floor((s % 3600) / 60), "m");
    if (s >= 60) return part(Math.floor(s / 60), "m");
    return part(s, "s");
  }

  function show(seg) {
    var state = seg.getAttribute("data-label") || words.unobserved;
    tip.textContent = state + ": " + local(seg.getAttribute("data-from")) + " " + words.to + " " +
      local(seg.getAttribute("data-to")) + " (" + words.lasting + " " +
      lasting(seg.getAttribute("data-seconds")) + ")";
    tip.setAttribute("data-state", seg.getAttribute("data-state") || "");
    tip.hidden = false; // first: a hidden box has no offsetParent to be placed against
    var strip = seg.ownerSVGElement;
    var box = strip.getBoundingClientRect();
    var host = tip.offsetParent ? tip.offsetParent.getBoundingClientRect() : { left: 0, top: 0 };
    var segBox = seg.getBoundingClientRect();
    var left = Math.max(0, Math.min(segBox.left - host.left, box.right - host.left - tip.offsetWidth));
    tip.style.left = left + "px";
    tip.style.top = (box.bottom - host.top + 4) + "px";
    var previous = document.querySelector(".health-strip .seg.current");
    if (previous) previous.classList.remove("current");
    seg.classList.add("current");
  }

  function hide() {
    tip.hidden = true;
    var previous = document.querySelector(".health-strip .seg.current");
    if (previous) previous.classList.remove("current");
  }

  var segments = document.querySelectorAll(".health-strip .seg");
  Array.prototype.forEach.call(segments, function (seg) {
    seg.addEventListener("mouseenter", function () { show(seg); });
    seg.addEventListener("mouseleave", hide);
    seg.addEventListener("focus", function () { show(seg); });
    seg.addEventListener("blur", hide);
    seg.addEventListener("keydown", function (event) {
      var sibling = null;
      if (event.key === "ArrowRight") sibling = seg.nextElementSibling;
      if (event.key === "ArrowLeft") sibling = seg.previousElementSibling;
      if (sibling && sibling.classList && sibling.classList.contains("seg")) {
        event.preventDefault();
        sibling.focus();
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hide();
  });
})();
