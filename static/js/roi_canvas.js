/* Task detail page: draws the task's region of interest (ROI) on #roi-canvas.
 *
 * With data-frame-url on the canvas (the task's reference still, members only), the still is
 * drawn under the shapes and in the PNG export; data-still says "drawn" once it is.
 *
 * Input: the normalised ROI from the server, handed over with Django's json_script as #roi-data
 * ({frame: {width, height, assumed}, shapes: [{kind, points, name?, properties?}], whole_frame,
 * detection: {min_size?, max_size?}, problems}), and the canvas' labels as #roi-strings.
 *
 * Mapping: frame pixel (fx, fy) -> CSS pixel (fit.x + fx * fit.scale, fit.y + fy * fit.scale)
 * -> device pixel (CSS pixel * devicePixelRatio). The view is the frame, grown to take in any
 * point outside it (drawn where it is, never clamped), scaled to fit the container and centred.
 * The current mapping is published as data-fit on the canvas for tests and tools.
 *
 * No library, no inline code (the site's CSP allows scripts from 'self' only).
 */
(function () {
  "use strict";

  var canvas = document.getElementById("roi-canvas");
  var dataEl = document.getElementById("roi-data");
  if (!canvas || !dataEl || !canvas.getContext || !window.RoiDraw) {
    return;
  }
  var D = window.RoiDraw;
  var roi;
  try {
    roi = JSON.parse(dataEl.textContent);
  } catch (e) {
    return; // the server-side alert already explains what is wrong
  }
  if (!roi || typeof roi !== "object") {
    return;
  }
  var strings = {};
  var stringsEl = document.getElementById("roi-strings");
  if (stringsEl) {
    try {
      strings = JSON.parse(stringsEl.textContent) || {};
    } catch (e) {
      strings = {};
    }
  }
  function t(key, fallback) {
    return typeof strings[key] === "string" ? strings[key] : fallback;
  }

  var FILL_ALPHA = 0.35;
  var FRAME_BG = D.FRAME_BG;
  var FRAME_BORDER = "#c9d1e0";
  var REF_COLOUR = "#e6e9ef";

  var frame = roi.frame && roi.frame.width > 0 && roi.frame.height > 0
    ? { width: Number(roi.frame.width), height: Number(roi.frame.height) }
    : { width: 1920, height: 1080 };
  var shapes = Array.isArray(roi.shapes) ? roi.shapes.filter(validShape) : [];
  var detection = roi.detection && typeof roi.detection === "object" ? roi.detection : {};
  var highlighted = -1;
  var drawCount = 0;
  // The task's reference still (data-frame-url), drawn under the shapes once it has loaded.
  var still = null;

  function validShape(shape) {
    return shape && Array.isArray(shape.points) && shape.points.every(function (p) {
      return Array.isArray(p) && p.length === 2 && isFinite(p[0]) && isFinite(p[1]);
    });
  }

  var colourOf = D.colourOf;
  var rgba = D.rgba;

  /* Kind-specific label of a shape, e.g. "approach line" for vehicle lines. */
  function kindLabel(shape) {
    var props = shape.properties && typeof shape.properties === "object" ? shape.properties : {};
    if (shape.kind === "line") {
      if (props.type === 0 || props.type === "0") return t("approach", "approach line");
      if (props.type === 1 || props.type === "1") return t("leave", "leaving line");
      return t("line", "line");
    }
    return t("polygon", "polygon");
  }

  function shapeTitle(shape, index) {
    var title = String(index + 1);
    if (typeof shape.name === "string" && shape.name) {
      title += " " + (shape.name.length > 40 ? shape.name.slice(0, 39) + "…" : shape.name);
    }
    if (shape.kind === "line") {
      title += " · " + kindLabel(shape);
    }
    return title;
  }

  var labelBounds = { width: Infinity, height: Infinity };

  /* A small boxed caption, kept inside the drawing so it is never cut off. */
  function label(ctx, text, x, y, colour, maxX) {
    ctx.font = "600 12px system-ui, -apple-system, 'Segoe UI', sans-serif";
    var w = ctx.measureText(text).width + 10;
    var right = Math.min(labelBounds.width, maxX === undefined ? Infinity : maxX) - 2;
    x = Math.max(2, Math.min(x, right - w));
    y = Math.max(11, Math.min(y, labelBounds.height - 11));
    ctx.fillStyle = "rgba(15,20,32,0.85)";
    ctx.fillRect(x, y - 9, w, 18);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1;
    ctx.setLineDash([]);
    ctx.strokeRect(x + 0.5, y - 8.5, w - 1, 17);
    ctx.fillStyle = "#ffffff";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + 5, y + 0.5);
  }

  function numberBadge(ctx, text, x, y, colour) {
    ctx.beginPath();
    ctx.arc(x, y, 10, 0, Math.PI * 2);
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#0f1420";
    ctx.setLineDash([]);
    ctx.stroke();
    ctx.fillStyle = "#0f1420";
    ctx.font = "700 12px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x, y + 0.5);
    ctx.textAlign = "start";
  }

  function arrowHead(ctx, x, y, angle, size, colour) {
    ctx.save();
    ctx.translate(x, y);
    ctx.rotate(angle);
    ctx.beginPath();
    ctx.moveTo(size, 0);
    ctx.lineTo(-size * 0.7, size * 0.6);
    ctx.lineTo(-size * 0.7, -size * 0.6);
    ctx.closePath();
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.restore();
  }

  /* Draws everything with `map` (frame px -> CSS px) on a context already scaled for the DPR. */
  function paint(ctx, map, width, height, options) {
    var sx = function (x) { return map.x + x * map.scale; };
    var sy = function (y) { return map.y + y * map.scale; };
    labelBounds = { width: width, height: height };
    ctx.setLineDash([]);
    // The frame and its border: always visible, so points outside it are seen as outside; the
    // reference still at the frame's place and size.
    var fx = sx(0), fy = sy(0), fw = frame.width * map.scale, fh = frame.height * map.scale;
    D.ground(ctx, width, height, fx, fy, fw, fh, still);

    if (roi.whole_frame && shapes.length === 0) {
      ctx.fillStyle = rgba(colourOf(2), FILL_ALPHA);
      ctx.fillRect(fx, fy, fw, fh);
      ctx.font = "600 16px system-ui, -apple-system, 'Segoe UI', sans-serif";
      ctx.fillStyle = "#ffffff";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(t("whole_frame", "Whole frame"), fx + fw / 2, fy + fh / 2);
      ctx.textAlign = "start";
    }

    var badges = [];
    shapes.forEach(function (shape, index) {
      var colour = colourOf(index);
      var dim = highlighted >= 0 && highlighted !== index;
      var hot = highlighted === index;
      var pts = shape.points;
      if (shape.kind === "line") {
        var a = pts[0], b = pts[pts.length - 1];
        var ax = sx(a[0]), ay = sy(a[1]), bx = sx(b[0]), by = sy(b[1]);
        ctx.globalAlpha = dim ? 0.35 : 1;
        ctx.beginPath();
        ctx.moveTo(ax, ay);
        ctx.lineTo(bx, by);
        ctx.strokeStyle = colour;
        ctx.lineWidth = hot ? 5 : 3;
        ctx.setLineDash([]);
        ctx.stroke();
        var angle = Math.atan2(by - ay, bx - ax);
        var mx = (ax + bx) / 2, my = (ay + by) / 2;
        arrowHead(ctx, mx, my, angle, hot ? 11 : 9, colour);
        // Sides: side1 is left of the direction A->B (the upper side of a left-to-right line).
        var props = shape.properties && typeof shape.properties === "object" ? shape.properties : {};
        var nx = Math.sin(angle), ny = -Math.cos(angle);
        if (typeof props.side1_name === "string" && props.side1_name) {
          label(ctx, props.side1_name.slice(0, 30), mx + nx * 26 - 20, my + ny * 26, colour);
        }
        if (typeof props.side2_name === "string" && props.side2_name) {
          label(ctx, props.side2_name.slice(0, 30), mx - nx * 26 - 20, my - ny * 26, colour);
        }
        label(ctx, "A", ax - 8, ay - 16, colour);
        label(ctx, "B", bx - 8, by - 16, colour);
        ctx.globalAlpha = 1;
        badges.push({ text: shapeTitle(shape, index), x: mx + 14, y: my + 18, colour: colour });
        return;
      }
      ctx.beginPath();
      ctx.moveTo(sx(pts[0][0]), sy(pts[0][1]));
      for (var i = 1; i < pts.length; i++) {
        ctx.lineTo(sx(pts[i][0]), sy(pts[i][1]));
      }
      ctx.closePath();
      // Even-odd: a self-intersecting outline shows its holes as the upstream would see them.
      ctx.fillStyle = rgba(colour, dim ? FILL_ALPHA / 3 : hot ? Math.min(0.6, FILL_ALPHA * 1.6) : FILL_ALPHA);
      ctx.fill("evenodd");
      ctx.strokeStyle = colour;
      ctx.globalAlpha = dim ? 0.5 : 1;
      ctx.lineWidth = hot ? 4 : 2;
      ctx.setLineDash([]);
      ctx.stroke();
      ctx.globalAlpha = 1;
      var cx = 0, cy = 0;
      pts.forEach(function (p) { cx += p[0]; cy += p[1]; });
      badges.push({
        text: shapeTitle(shape, index),
        x: sx(cx / pts.length),
        y: sy(cy / pts.length),
        colour: colour,
        number: String(index + 1),
      });
    });

    // Reference squares for the detectable target sizes, in the frame's bottom-right corner.
    var refs = [];
    if (isFinite(detection.max_size) && detection.max_size > 0) {
      refs.push({ size: Number(detection.max_size), text: t("max_size", "max") });
    }
    if (isFinite(detection.min_size) && detection.min_size > 0) {
      refs.push({ size: Number(detection.min_size), text: t("min_size", "min") });
    }
    var inset = 0.015 * frame.width;
    refs.forEach(function (ref) {
      var s = ref.size * map.scale;
      var x = sx(frame.width - inset) - s, y = sy(frame.height - inset) - s;
      ctx.strokeStyle = REF_COLOUR;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.strokeRect(x, y, s, s);
      ctx.setLineDash([]);
      label(ctx, ref.text + " " + ref.size + " px", x + 2, y + 12, REF_COLOUR, sx(frame.width));
    });

    // Labels last, so outlines never hide them.
    badges.forEach(function (badge) {
      if (badge.number) {
        numberBadge(ctx, badge.number, badge.x, badge.y, badge.colour);
        if (badge.text !== badge.number) {
          label(ctx, badge.text.slice(badge.number.length + 1), badge.x + 14, badge.y, badge.colour);
        }
      } else {
        label(ctx, badge.text, badge.x, badge.y, badge.colour);
      }
    });

    // Frame border on top, and the assumed size in its corner.
    ctx.setLineDash([]);
    ctx.strokeStyle = FRAME_BORDER;
    ctx.lineWidth = 2;
    ctx.strokeRect(fx + 1, fy + 1, fw - 2, fh - 2);
    if (!options || !options.native) {
      var caption = frame.width + "×" + frame.height + (roi.frame && roi.frame.assumed ? " " + t("assumed", "(assumed)") : "");
      label(ctx, caption, fx + 8, fy + 16, FRAME_BORDER);
    }
  }

  var wrap = canvas.parentElement;
  var lastKey = "";

  function draw(force) {
    var dpr = window.devicePixelRatio || 1;
    var cssW = Math.max(1, Math.floor(wrap.clientWidth));
    var view = D.viewBox(frame, [shapes]);
    var cssH = D.cssHeight(cssW, view, 0.75);
    var key = cssW + "x" + cssH + "@" + dpr + "#" + highlighted;
    if (!force && key === lastKey) {
      return;
    }
    lastKey = key;
    var laid = D.fit(canvas, cssW, cssH, view);
    var map = laid.map;
    paint(laid.ctx, map, cssW, cssH);
    drawCount += 1;
    canvas.dataset.fit = JSON.stringify({
      x: map.x, y: map.y, scale: map.scale, dpr: dpr, cssWidth: cssW, cssHeight: cssH,
      sx: map.sx, sy: map.sy,
    });
    canvas.dataset.colors = JSON.stringify(shapes.map(function (s, i) { return colourOf(i); }));
    canvas.dataset.fillAlpha = String(FILL_ALPHA);
    canvas.dataset.frameBackground = FRAME_BG;
    canvas.dataset.drawn = String(drawCount);
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      draw(false);
    });
  }

  draw(true);
  var frameUrl = canvas.getAttribute("data-frame-url");
  if (frameUrl) {
    var image = new Image();
    image.addEventListener("load", function () {
      still = image;
      canvas.dataset.still = "drawn";
      draw(true);
    });
    image.addEventListener("error", function () {
      canvas.dataset.still = "failed";
    });
    image.src = frameUrl;
  }
  if (window.ResizeObserver) {
    new ResizeObserver(schedule).observe(wrap);
  }
  window.addEventListener("resize", schedule);
  // A window moved to a screen with another pixel ratio redraws sharp.
  (function watchDpr() {
    if (!window.matchMedia) return;
    var query = window.matchMedia("(resolution: " + (window.devicePixelRatio || 1) + "dppx)");
    var onChange = function () {
      schedule();
      if (query.removeEventListener) query.removeEventListener("change", onChange);
      watchDpr();
    };
    if (query.addEventListener) query.addEventListener("change", onChange);
  })();

  // Hovering (or focusing) a row of the coordinates table highlights its shape.
  Array.prototype.forEach.call(document.querySelectorAll("[data-shape-index]"), function (row) {
    var index = parseInt(row.getAttribute("data-shape-index"), 10);
    function on() {
      highlighted = index;
      row.classList.add("highlight");
      draw(true);
    }
    function off() {
      highlighted = -1;
      row.classList.remove("highlight");
      draw(true);
    }
    row.addEventListener("mouseenter", on);
    row.addEventListener("mouseleave", off);
    row.addEventListener("focusin", on);
    row.addEventListener("focusout", off);
  });

  var status = document.getElementById("roi-status");
  function say(text) {
    if (status) status.textContent = text;
  }

  /* The shapes in the upstream's own target_roi format, for pasting back into a task. */
  function coordinatesText() {
    var out = {};
    shapes.forEach(function (shape) {
      var key = shape.kind === "line" ? "lines" : "polygons";
      var item = { data: shape.points };
      if (typeof shape.name === "string") item.name = shape.name;
      if (shape.properties && typeof shape.properties === "object") item.properties = shape.properties;
      (out[key] = out[key] || []).push(item);
    });
    return JSON.stringify(out);
  }

  var copyButton = document.getElementById("roi-copy");
  if (copyButton) {
    copyButton.hidden = false;
    copyButton.addEventListener("click", function () {
      var text = coordinatesText();
      var done = function () { say(t("copied", "Coordinates copied.")); };
      var fallback = function () {
        var area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.className = "offscreen";
        document.body.appendChild(area);
        area.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        document.body.removeChild(area);
        say(ok ? t("copied", "Coordinates copied.") : t("copy_failed", "Copy failed: select the table instead."));
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  var pngButton = document.getElementById("roi-png");
  if (pngButton) {
    pngButton.hidden = false;
    pngButton.addEventListener("click", function () {
      // At the frame's native size: one canvas pixel per frame pixel, no DPR, no margin.
      var off = document.createElement("canvas");
      off.width = frame.width;
      off.height = frame.height;
      var ctx = off.getContext("2d");
      var saved = highlighted;
      highlighted = -1;
      paint(ctx, { x: 0, y: 0, scale: 1 }, frame.width, frame.height, { native: true });
      highlighted = saved;
      var name = (canvas.getAttribute("data-filename") || "roi") + ".png";
      off.toBlob(function (blob) {
        if (!blob) {
          say(t("png_failed", "The image could not be made."));
          return;
        }
        var url = URL.createObjectURL(blob);
        var link = document.createElement("a");
        link.href = url;
        link.download = name;
        document.body.appendChild(link);
        link.click();
        document.body.removeChild(link);
        window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        say(t("png_ready", "PNG downloaded."));
      }, "image/png");
    });
  }
})();
