/* Task pages: show <time class="localtime" datetime="…Z"> in the viewer's local time (the UTC
 * time stays in the title, shown on hover) and keep the relative ages next to them current. */
(function () {
  "use strict";

  // The page's language (<html lang>, chosen by the portal), so dates and ages read like the rest
  // of the page; the browser's regional variant of it when it has one (en-GB, zh-CN).
  var pageLang = document.documentElement.lang || "";
  var browserLang = navigator.language || "";
  var lang = pageLang || undefined;
  if (pageLang && browserLang.toLowerCase().indexOf(pageLang.split("-")[0].toLowerCase() + "-") === 0) {
    lang = browserLang;
  }
  var formatter;
  try {
    formatter = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
  } catch (e) {
    formatter = null;
  }
  var relative = null;
  try {
    relative = window.Intl && Intl.RelativeTimeFormat
      ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" })
      : null;
  } catch (e) {
    relative = null;
  }
  var UNITS = [
    ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1],
  ];

  function age(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    for (var i = 0; i < UNITS.length; i++) {
      if (Math.abs(seconds) >= UNITS[i][1] || UNITS[i][0] === "second") {
        return relative.format(Math.round(seconds / UNITS[i][1]), UNITS[i][0]);
      }
    }
    return "";
  }

  function update() {
    Array.prototype.forEach.call(document.querySelectorAll("time.localtime[datetime]"), function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      if (formatter && !el.dataset.localised) {
        el.textContent = formatter.format(date);
        el.dataset.localised = "1";
      }
      var next = el.nextElementSibling;
      if (relative && next && next.hasAttribute("data-age-for")) {
        next.textContent = "(" + age(date) + ")";
      }
    });
  }

  update();
  window.setInterval(update, 30000);
})();
