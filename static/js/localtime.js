/* Task pages: show <time class="localtime" datetime="…Z"> in the viewer's local time (the UTC
 * time stays in the title, shown on hover) and keep the relative ages next to them current. */
(function () {
  "use strict";

  var formatter;
  try {
    formatter = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  } catch (e) {
    formatter = null;
  }
  var relative = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "auto" })
    : null;
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
