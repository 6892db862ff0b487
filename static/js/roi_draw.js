/* Drawing helpers shared by the ROI canvas of the task page (roi_canvas.js) and the ROI editor
 * (roi_editor.js): the palette, colours, the part of the plane shown, and the mapping of that
 * view onto a canvas. Exposes window.RoiDraw; load it before either page script.
 *
 * Mapping: frame pixel (fx, fy) -> CSS pixel (map.x + fx * map.scale, map.y + fy * map.scale)
 * -> device pixel (CSS pixel * devicePixelRatio). No library, no inline code (CSP).
 */
(function (root) {
  "use strict";

  // Distinct, colour-blind-friendlier hues (Okabe-Ito first, then Tol's bright set).
  var PALETTE = [
    "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
    "#ee6677", "#228833", "#4477aa", "#66ccee", "#aa3377",
  ];
  var OUTSIDE = "#0f1420"; // around the frame (matches .roi-wrap)
  var FRAME_BG = "#262f42"; // the frame itself

  function colourOf(index) {
    return PALETTE[index % PALETTE.length];
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  /* The part of the plane shown: the frame, plus any point of the shapes in `lists` (lists of
   * shapes) outside it with a margin. */
  function viewBox(frame, lists) {
    var x0 = 0, y0 = 0, x1 = frame.width, y1 = frame.height, outside = false;
    lists.forEach(function (shapes) {
      shapes.forEach(function (shape) {
        shape.points.forEach(function (p) {
          if (p[0] < 0 || p[1] < 0 || p[0] > frame.width || p[1] > frame.height) {
            outside = true;
          }
          x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]);
          x1 = Math.max(x1, p[0]); y1 = Math.max(y1, p[1]);
        });
      });
    });
    if (outside) {
      var pad = 0.04 * Math.max(x1 - x0, y1 - y0);
      x0 -= pad; y0 -= pad; x1 += pad; y1 += pad;
    }
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  /* The CSS height of a canvas `cssW` wide showing `view`: its aspect, at most `fraction` of
   * the window's height (and never under 200 px for that cap). */
  function cssHeight(cssW, view, fraction) {
    var maxH = Math.max(200, Math.floor(window.innerHeight * fraction));
    return Math.max(1, Math.min(Math.round(cssW * view.height / view.width), maxH));
  }

  /* Sizes `target` to cssW × cssH CSS pixels (times devicePixelRatio in device pixels), fits
   * `view` into it, centred, and answers its 2D context (transformed to CSS pixels) and the map
   * {scale, x, y, sx, sy, cssWidth, cssHeight}. */
  function fit(target, cssW, cssH, view) {
    var dpr = window.devicePixelRatio || 1;
    var scale = Math.min(cssW / view.width, cssH / view.height);
    var map = {
      scale: scale,
      x: (cssW - view.width * scale) / 2 - view.x * scale,
      y: (cssH - view.height * scale) / 2 - view.y * scale,
    };
    target.style.width = cssW + "px";
    target.style.height = cssH + "px";
    target.width = Math.round(cssW * dpr);
    target.height = Math.round(cssH * dpr);
    var ctx = target.getContext("2d");
    ctx.setTransform(target.width / cssW, 0, 0, target.height / cssH, 0, 0);
    map.sx = target.width / cssW;
    map.sy = target.height / cssH;
    map.cssWidth = cssW;
    map.cssHeight = cssH;
    return { ctx: ctx, map: map };
  }

  /* Paints the canvas' `width` × `height` CSS pixels as outside the frame, then the frame at
   * (fx, fy, fw, fh) and, once loaded, the reference `still` in it (in device pixels: sharp at
   * any DPR). */
  function ground(ctx, width, height, fx, fy, fw, fh, still) {
    ctx.fillStyle = OUTSIDE;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = FRAME_BG;
    ctx.fillRect(fx, fy, fw, fh);
    if (still) {
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(still, fx, fy, fw, fh);
    }
  }

  root.RoiDraw = {
    PALETTE: PALETTE,
    OUTSIDE: OUTSIDE,
    FRAME_BG: FRAME_BG,
    ground: ground,
    colourOf: colourOf,
    rgba: rgba,
    viewBox: viewBox,
    cssHeight: cssHeight,
    fit: fit,
  };
})(window);
