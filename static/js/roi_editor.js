/* The ROI editor: add, drag and delete points; add and delete polygons and lines; name shapes
 * and a line's sides; reverse a line; undo and redo; every action by mouse, button and key.
 * Problems are found live with RoiGeometry (the same checks as the server, roi_geometry.js) and
 * block the preview and apply. The preview draws the current and the new ROI together and the
 * target_roi text diff; Apply sends PUT …/roi/ (session auth, CSRF token from the page).
 *
 * Data: #roi-editor-data {shapes, frame, service, limits, snapshot_id, target_roi, api_url,
 * frame_url, history_url, detail_url}; texts: #roi-editor-strings. No inline code (CSP).
 * Mapping as on the detail page: frame px -> CSS px (fit.x + fx * fit.scale, …) -> device px;
 * published as data-fit on the canvas, with data-drawn counting draws and data-still "drawn"
 * once the reference still is under the shapes.
 */
(function () {
  "use strict";

  var canvas = document.getElementById("roi-editor-canvas");
  var dataEl = document.getElementById("roi-editor-data");
  if (!canvas || !dataEl || !window.RoiGeometry || !window.RoiDraw) return;
  var G = window.RoiGeometry;
  var D = window.RoiDraw;
  var data = JSON.parse(dataEl.textContent);
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById("roi-editor-strings").textContent) || {};
  } catch (e) {
    strings = {};
  }
  function t(key, fallback) {
    return typeof strings[key] === "string" ? strings[key] : fallback;
  }
  function fill(template, params) {
    return G.describe({ code: "", params: params }, template);
  }

  var FILL_ALPHA = 0.3;
  var FRAME_BG = D.FRAME_BG;
  var HANDLE = 6; // CSS px radius of a point handle
  var HIT = 10; // CSS px within which a click takes a point

  var frame = {
    width: Number(data.frame && data.frame.width) || 1920,
    height: Number(data.frame && data.frame.height) || 1080,
    assumed: !(data.frame && data.frame.assumed === false),
  };
  var limits = data.limits || G.limitsFor(data.service);

  function clone(value) {
    return JSON.parse(JSON.stringify(value));
  }
  function cleanShapes(list) {
    return (Array.isArray(list) ? list : []).map(function (s) {
      var shape = { kind: s.kind, points: clone(s.points || []) };
      if (typeof s.name === "string") shape.name = s.name;
      if (s.properties && typeof s.properties === "object") shape.properties = clone(s.properties);
      return shape;
    });
  }

  var original = cleanShapes(data.shapes);
  var state = {
    shapes: cleanShapes(data.shapes),
    shape: original.length ? 0 : -1, // selected shape
    point: -1, // selected point of it
    drawing: null, // "polygon" | "line" while clicks add points
  };
  var undoStack = [];
  var redoStack = [];
  var problems = [];
  var drawCount = 0;
  var still = null;
  var fit = null;
  var busy = false;

  // ------------------------------------------------------------------ history

  function snapshot() {
    return { shapes: clone(state.shapes), shape: state.shape, point: state.point };
  }
  function restore(saved) {
    state.shapes = saved.shapes;
    state.shape = saved.shape;
    state.point = saved.point;
    state.drawing = null;
  }
  /* Call before a change: the state as it was becomes one undo step. */
  function record() {
    undoStack.push(snapshot());
    if (undoStack.length > 200) undoStack.shift();
    redoStack = [];
  }
  function undo() {
    if (!undoStack.length) return;
    redoStack.push(snapshot());
    restore(undoStack.pop());
    changed();
  }
  function redo() {
    if (!redoStack.length) return;
    undoStack.push(snapshot());
    restore(redoStack.pop());
    changed();
  }

  // ------------------------------------------------------------------ actions

  function selected() {
    return state.shape >= 0 ? state.shapes[state.shape] : null;
  }
  function clampPoint(x, y) {
    return [
      Math.max(0, Math.min(frame.width, Math.round(x))),
      Math.max(0, Math.min(frame.height, Math.round(y))),
    ];
  }
  function addShape(kind) {
    record();
    var shape = { kind: kind, points: [] };
    if (kind === "line") shape.properties = { side1_name: "", side2_name: "" };
    state.shapes.push(shape);
    state.shape = state.shapes.length - 1;
    state.point = -1;
    state.drawing = kind;
    changed();
    canvas.focus();
  }
  function finishShape() {
    state.drawing = null;
    changed();
  }
  /* A point after the selected one: where the pointer clicked, else beside the selected one. */
  function addPoint(at) {
    var shape = selected();
    if (!shape) return;
    if (shape.kind === "line" && shape.points.length >= 2) return;
    var pts = shape.points;
    var where = state.point >= 0 ? state.point + 1 : pts.length;
    var point;
    if (at) {
      point = clampPoint(at[0], at[1]);
      where = pts.length; // clicks draw in order
    } else if (!pts.length) {
      point = clampPoint(frame.width / 2, frame.height / 2);
    } else {
      var from = pts[state.point >= 0 ? state.point : pts.length - 1];
      var step = Math.round(frame.width / 20);
      point = clampPoint(from[0] + step, from[1]);
      if (point[0] === from[0]) point = clampPoint(from[0] - step, from[1]);
    }
    record();
    pts.splice(where, 0, point);
    state.point = where;
    if (shape.kind === "line" && pts.length === 2 && state.drawing === "line") state.drawing = null;
    changed();
  }
  function deletePoint() {
    var shape = selected();
    if (!shape || state.point < 0) return;
    record();
    shape.points.splice(state.point, 1);
    state.point = Math.min(state.point, shape.points.length - 1);
    changed();
  }
  function deleteShape() {
    if (state.shape < 0) return;
    record();
    state.shapes.splice(state.shape, 1);
    state.shape = Math.min(state.shape, state.shapes.length - 1);
    state.point = -1;
    state.drawing = null;
    changed();
  }
  function reverseLine() {
    var shape = selected();
    if (!shape || shape.kind !== "line") return;
    record();
    shape.points.reverse();
    // The sides swap with the direction: side1 stays left of A→B.
    var props = shape.properties || {};
    var side1 = props.side1_name;
    props.side1_name = props.side2_name;
    props.side2_name = side1;
    shape.properties = props;
    if (state.point >= 0) state.point = shape.points.length - 1 - state.point;
    changed();
  }
  function movePoint(dx, dy) {
    var shape = selected();
    if (!shape || state.point < 0) return;
    record();
    var p = shape.points[state.point];
    shape.points[state.point] = clampPoint(p[0] + dx, p[1] + dy);
    changed();
  }
  function stepPoint(delta) {
    var shape = selected();
    if (!shape || !shape.points.length) return;
    var n = shape.points.length;
    state.point = state.point < 0 ? (delta > 0 ? 0 : n - 1) : (state.point + delta + n) % n;
    changed();
  }
  function stepShape(delta) {
    var n = state.shapes.length;
    if (!n) return;
    state.shape = state.shape < 0 ? 0 : (state.shape + delta + n) % n;
    state.point = -1;
    state.drawing = null;
    changed();
  }
  function selectShape(index) {
    state.shape = index;
    state.point = -1;
    state.drawing = null;
    changed();
  }
  function setName(value) {
    var shape = selected();
    if (!shape) return;
    record();
    if (value) shape.name = value; else delete shape.name;
    changed({ keepForm: true });
  }
  function setSide(key, value) {
    var shape = selected();
    if (!shape || shape.kind !== "line") return;
    record();
    shape.properties = shape.properties || {};
    shape.properties[key] = value;
    changed({ keepForm: true });
  }

  // ------------------------------------------------------------------ drawing

  var colourOf = D.colourOf;
  var rgba = D.rgba;
  function layout(target, lists) {
    var cssW = Math.max(1, Math.floor(target.parentElement.clientWidth));
    var view = D.viewBox(frame, lists);
    return D.fit(target, cssW, D.cssHeight(cssW, view, 0.7), view);
  }
  function background(ctx, map) {
    var fx = map.x, fy = map.y, fw = frame.width * map.scale, fh = frame.height * map.scale;
    D.ground(ctx, map.cssWidth, map.cssHeight, fx, fy, fw, fh, still);
    ctx.strokeStyle = "#c9d1e0";
    ctx.lineWidth = 1.5;
    ctx.setLineDash([]);
    ctx.strokeRect(fx + 0.75, fy + 0.75, fw - 1.5, fh - 1.5);
  }
  function path(ctx, map, shape, close) {
    ctx.beginPath();
    shape.points.forEach(function (p, i) {
      var x = map.x + p[0] * map.scale, y = map.y + p[1] * map.scale;
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    if (close) ctx.closePath();
  }
  function arrow(ctx, map, shape, colour) {
    var a = shape.points[0], b = shape.points[1];
    var ax = map.x + a[0] * map.scale, ay = map.y + a[1] * map.scale;
    var bx = map.x + b[0] * map.scale, by = map.y + b[1] * map.scale;
    var angle = Math.atan2(by - ay, bx - ax);
    var mx = (ax + bx) / 2, my = (ay + by) / 2;
    ctx.save();
    ctx.translate(mx, my);
    ctx.rotate(angle);
    ctx.beginPath();
    ctx.moveTo(10, 0);
    ctx.lineTo(-7, 6);
    ctx.lineTo(-7, -6);
    ctx.closePath();
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.restore();
    var props = shape.properties || {};
    var nx = Math.sin(angle), ny = -Math.cos(angle);
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.fillStyle = "#ffffff";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    if (props.side1_name) ctx.fillText(String(props.side1_name).slice(0, 30), mx + nx * 22, my + ny * 22);
    if (props.side2_name) ctx.fillText(String(props.side2_name).slice(0, 30), mx - nx * 22, my - ny * 22);
    ctx.fillText("A", ax - nx * 14, ay - ny * 14);
    ctx.fillText("B", bx - nx * 14, by - ny * 14);
    ctx.textAlign = "start";
  }
  function paintShapes(ctx, map, shapes, options) {
    var bad = {};
    (options.problems || []).forEach(function (p) { if (p.shape !== null) bad[p.shape] = true; });
    shapes.forEach(function (shape, index) {
      if (!shape.points.length) return;
      var colour = options.ghost ? "#ffffff" : colourOf(index);
      var hot = !options.ghost && index === options.selected;
      ctx.setLineDash(options.ghost ? [8, 6] : []);
      if (shape.kind === "polygon" && shape.points.length >= 3) {
        path(ctx, map, shape, !(options.drawing && hot));
        if (!options.ghost) {
          ctx.fillStyle = rgba(colour, hot ? FILL_ALPHA * 1.5 : FILL_ALPHA);
          ctx.fill("evenodd");
        }
      } else {
        path(ctx, map, shape, false);
      }
      ctx.strokeStyle = colour;
      ctx.lineWidth = hot ? 3.5 : 2;
      ctx.stroke();
      if (bad[index] && !options.ghost) {
        ctx.setLineDash([4, 4]);
        ctx.strokeStyle = "#ff3b30";
        ctx.lineWidth = 1.5;
        path(ctx, map, shape, shape.kind === "polygon");
        ctx.stroke();
      }
      ctx.setLineDash([]);
      if (shape.kind === "line" && shape.points.length === 2 && !options.ghost) {
        arrow(ctx, map, shape, colour);
      }
      if (options.handles) {
        shape.points.forEach(function (p, i) {
          var x = map.x + p[0] * map.scale, y = map.y + p[1] * map.scale;
          var chosen = hot && i === options.point;
          ctx.beginPath();
          ctx.arc(x, y, chosen ? HANDLE + 2 : HANDLE - (hot ? 1 : 2), 0, Math.PI * 2);
          ctx.fillStyle = chosen ? "#ffffff" : colour;
          ctx.fill();
          ctx.lineWidth = 1.5;
          ctx.strokeStyle = "#0f1420";
          ctx.stroke();
        });
      }
    });
  }
  function draw() {
    var laid = layout(canvas, [state.shapes]);
    fit = laid.map;
    background(laid.ctx, fit);
    paintShapes(laid.ctx, fit, state.shapes, {
      selected: state.shape, point: state.point, handles: true, problems: problems,
      drawing: state.drawing,
    });
    drawCount += 1;
    canvas.dataset.fit = JSON.stringify({
      x: fit.x, y: fit.y, scale: fit.scale, sx: fit.sx, sy: fit.sy,
      cssWidth: fit.cssWidth, cssHeight: fit.cssHeight, dpr: window.devicePixelRatio || 1,
    });
    canvas.dataset.drawn = String(drawCount);
    canvas.dataset.frameBackground = FRAME_BG;
    canvas.dataset.shapes = JSON.stringify(state.shapes);
  }
  function drawPreview() {
    var target = document.getElementById("roi-preview-canvas");
    if (!target) return;
    var laid = layout(target, [original, state.shapes]);
    background(laid.ctx, laid.map);
    paintShapes(laid.ctx, laid.map, state.shapes, { selected: -1, problems: [] });
    paintShapes(laid.ctx, laid.map, original, { ghost: true, selected: -1 });
    target.dataset.fit = JSON.stringify(laid.map);
  }

  // ------------------------------------------------------------------ panels

  function shapeLabel(shape, index) {
    var base = fill(shape.kind === "line" ? t("line", "Line %(number)s") : t("polygon", "Polygon %(number)s"), { number: index + 1 });
    return shape.name ? base + " · " + shape.name : base;
  }
  var list = document.getElementById("shape-list");
  var form = document.getElementById("shape-form");
  var nameInput = document.getElementById("shape-name");
  var lineFields = document.getElementById("line-fields");
  var side1 = document.getElementById("side1-name");
  var side2 = document.getElementById("side2-name");
  var problemList = document.getElementById("editor-problems");
  var statusEl = document.getElementById("editor-status");
  var previewButton = document.getElementById("roi-preview-button");
  var preview = document.getElementById("roi-preview");

  function renderList() {
    list.textContent = "";
    state.shapes.forEach(function (shape, index) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "shape-select";
      button.setAttribute("data-shape", String(index));
      button.setAttribute("aria-pressed", index === state.shape ? "true" : "false");
      button.textContent = shapeLabel(shape, index);
      button.style.borderLeft = "6px solid " + colourOf(index);
      button.addEventListener("click", function () { selectShape(index); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }
  function renderForm() {
    var shape = selected();
    form.hidden = !shape;
    if (!shape) return;
    nameInput.value = shape.name || "";
    lineFields.hidden = shape.kind !== "line";
    var props = shape.properties || {};
    side1.value = props.side1_name || "";
    side2.value = props.side2_name || "";
  }
  function renderProblems() {
    problemList.textContent = "";
    var templates = strings.problems || {};
    if (!problems.length) {
      var ok = document.createElement("li");
      ok.className = "ok";
      ok.textContent = state.shapes.length ? t("no_problems", "No problems.") : t("whole_frame", "No shapes: the whole frame.");
      problemList.appendChild(ok);
      return;
    }
    problems.forEach(function (p) {
      var item = document.createElement("li");
      item.setAttribute("data-code", p.code);
      var kinds = strings.kinds || {};
      var shown = p.params.kind && kinds[p.params.kind]
        ? { code: p.code, shape: p.shape, params: Object.assign({}, p.params, { kind: kinds[p.params.kind] }) }
        : p;
      item.textContent = G.describe(shown, templates[p.code]);
      problemList.appendChild(item);
    });
  }
  function renderStatus() {
    var shape = selected();
    var text = "";
    if (state.drawing === "polygon") text = t("drawing_polygon", "Drawing a polygon.");
    else if (state.drawing === "line") text = t("drawing_line", "Drawing a line.");
    else if (shape && state.point >= 0 && shape.points[state.point]) {
      var p = shape.points[state.point];
      text = fill(t("selected_point", "Point %(point)s of %(shape)s at %(x)s, %(y)s."), {
        point: state.point + 1, shape: shapeLabel(shape, state.shape), x: p[0], y: p[1],
      });
    }
    statusEl.textContent = text;
  }
  function isChanged() {
    return JSON.stringify(cleanForCompare(state.shapes)) !== JSON.stringify(cleanForCompare(original));
  }
  function cleanForCompare(shapes) {
    return G.targetRoiString(shapes);
  }
  function renderButtons() {
    var shape = selected();
    document.getElementById("finish-shape").disabled = !state.drawing;
    document.getElementById("add-point").disabled = !shape || (shape.kind === "line" && shape.points.length >= 2);
    document.getElementById("delete-point").disabled = !shape || state.point < 0;
    document.getElementById("prev-point").disabled = !shape || !shape.points.length;
    document.getElementById("next-point").disabled = !shape || !shape.points.length;
    document.getElementById("delete-shape").disabled = !shape;
    document.getElementById("reverse-line").disabled = !shape || shape.kind !== "line";
    document.getElementById("undo").disabled = !undoStack.length;
    document.getElementById("redo").disabled = !redoStack.length;
    var blocked = problems.length > 0 || !!state.drawing || !isChanged() || busy;
    previewButton.disabled = blocked;
    previewButton.title = !isChanged() ? t("no_change", "Nothing changed yet.") : "";
    var apply = document.getElementById("roi-apply");
    if (apply) apply.disabled = blocked;
    if (blocked && !busy) preview.hidden = true;
  }
  function changed(options) {
    problems = G.shapeProblems(state.shapes, data.frame, limits);
    renderList();
    if (!(options && options.keepForm)) renderForm();
    renderProblems();
    renderStatus();
    renderButtons();
    draw();
    if (!preview.hidden) renderPreview();
  }

  // ------------------------------------------------------------------ preview and apply

  /* One shape a line, so the diff reads shape by shape (the exact string is shown apart). */
  function pretty(text) {
    if (!text) return [];
    var doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return String(text).split("\n");
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) return [JSON.stringify(doc)];
    var keys = Object.keys(doc);
    var lines = ["{"];
    keys.forEach(function (key, k) {
      var comma = k < keys.length - 1 ? "," : "";
      if (!Array.isArray(doc[key])) {
        lines.push("  " + JSON.stringify(key) + ": " + JSON.stringify(doc[key]) + comma);
        return;
      }
      lines.push("  " + JSON.stringify(key) + ": [");
      // No separating commas: a shape's line stays the same when one is added after it.
      doc[key].forEach(function (item) {
        lines.push("    " + JSON.stringify(item));
      });
      lines.push("  ]" + comma);
    });
    lines.push("}");
    return lines;
  }
  /* Line diff by longest common subsequence (a few hundred lines at most). */
  function diffLines(a, b) {
    var n = a.length, m = b.length, i, j;
    var lcs = [];
    for (i = 0; i <= n; i++) { lcs.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) {
      for (j = m - 1; j >= 0; j--) {
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    var out = [];
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (lcs[i + 1][j] >= lcs[i][j + 1]) { out.push(["-", a[i]]); i++; }
      else { out.push(["+", b[j]]); j++; }
    }
    while (i < n) { out.push(["-", a[i++]]); }
    while (j < m) { out.push(["+", b[j++]]); }
    return out;
  }
  function renderPreview() {
    var newText = G.targetRoiString(state.shapes);
    var diff = diffLines(pretty(data.target_roi), pretty(newText));
    var box = document.getElementById("roi-diff");
    box.textContent = "";
    diff.forEach(function (row) {
      var line = document.createElement("span");
      line.className = row[0] === "-" ? "del" : row[0] === "+" ? "ins" : "same";
      line.textContent = row[0] + " " + row[1] + "\n";
      box.appendChild(line);
    });
    document.getElementById("roi-new-text").textContent = newText;
    drawPreview();
  }
  function openPreview() {
    if (previewButton.disabled) return;
    preview.hidden = false;
    renderPreview();
    renderButtons();
    preview.scrollIntoView({ block: "nearest" });
    document.getElementById("roi-apply").focus();
  }
  function csrfToken() {
    var input = document.querySelector("#roi-apply-form input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function showResult(kind, text, link) {
    var box = document.getElementById("apply-result");
    box.className = "alert " + kind;
    box.textContent = text;
    if (link) {
      box.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = link.href;
      a.id = link.id;
      a.textContent = link.text;
      box.appendChild(a);
    }
  }
  function apply(event) {
    event.preventDefault();
    if (problems.length || busy) return;
    busy = true;
    renderButtons();
    showResult("", t("applying", "Applying…"));
    fetch(data.api_url, {
      method: "PUT",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify({ shapes: state.shapes, expected_snapshot_id: data.snapshot_id }),
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; },
        function () { return { status: response.status, body: {} }; });
    }).then(function (answer) {
      busy = false;
      if (answer.status === 200) {
        data.snapshot_id = answer.body.meta.snapshot_id;
        original = cleanShapes(answer.body.roi.shapes);
        data.target_roi = G.targetRoiString(original);
        undoStack = [];
        redoStack = [];
        showResult("ok", fill(t("applied", "Applied: version %(snapshot)s."), { snapshot: data.snapshot_id }),
          { href: data.history_url, id: "history-link", text: t("history", "History") });
        changed();
        preview.hidden = false;
        return;
      }
      var error = (answer.body && answer.body.error) || {};
      if (error.code === "version_conflict") {
        showResult("error", t("conflict", "The task changed upstream."),
          { href: window.location.pathname, id: "reload-editor", text: t("reload", "Reload the editor") });
      } else {
        showResult("error", fill(t("failed", "Not applied: %(message)s"), { message: error.message || answer.status }));
      }
      renderButtons();
    }, function () {
      busy = false;
      showResult("error", fill(t("failed", "Not applied: %(message)s"), { message: "network" }));
      renderButtons();
    });
  }

  // ------------------------------------------------------------------ pointer and keys

  function framePoint(event) {
    var rect = canvas.getBoundingClientRect();
    var cx = event.clientX - rect.left, cy = event.clientY - rect.top;
    return [(cx - fit.x) / fit.scale, (cy - fit.y) / fit.scale, cx, cy];
  }
  function hitPoint(cx, cy) {
    var best = null, bestD = HIT;
    state.shapes.forEach(function (shape, si) {
      shape.points.forEach(function (p, pi) {
        var d = Math.hypot(fit.x + p[0] * fit.scale - cx, fit.y + p[1] * fit.scale - cy);
        if (d <= bestD) { best = [si, pi]; bestD = d; }
      });
    });
    return best;
  }
  function inside(point, pts) {
    var c = false;
    for (var i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      if ((pts[i][1] > point[1]) !== (pts[j][1] > point[1]) &&
          point[0] < (pts[j][0] - pts[i][0]) * (point[1] - pts[i][1]) / (pts[j][1] - pts[i][1]) + pts[i][0]) {
        c = !c;
      }
    }
    return c;
  }
  var drag = null;
  canvas.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    canvas.focus();
    var at = framePoint(event);
    if (state.drawing) {
      var shape = selected();
      var first = shape && shape.points[0];
      if (state.drawing === "polygon" && first && shape.points.length >= 3 &&
          Math.hypot(fit.x + first[0] * fit.scale - at[2], fit.y + first[1] * fit.scale - at[3]) <= HIT) {
        finishShape(); // clicking the first point closes the polygon
        return;
      }
      addPoint([at[0], at[1]]);
      return;
    }
    var hit = hitPoint(at[2], at[3]);
    if (hit) {
      state.shape = hit[0];
      state.point = hit[1];
      drag = { before: snapshot(), moved: false };
      canvas.setPointerCapture(event.pointerId);
      changed();
      return;
    }
    for (var i = state.shapes.length - 1; i >= 0; i--) {
      if (state.shapes[i].kind === "polygon" && inside(at, state.shapes[i].points)) {
        selectShape(i);
        return;
      }
    }
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var at = framePoint(event);
    var shape = selected();
    if (!shape || state.point < 0) return;
    shape.points[state.point] = clampPoint(at[0], at[1]);
    drag.moved = true;
    problems = G.shapeProblems(state.shapes, data.frame, limits);
    draw();
    renderStatus();
  });
  function endDrag() {
    if (!drag) return;
    if (drag.moved) {
      undoStack.push(drag.before); // the whole drag is one step
      redoStack = [];
    }
    drag = null;
    changed();
  }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);

  function onKey(event) {
    var key = event.key;
    var mod = event.ctrlKey || event.metaKey;
    if (mod && (key === "z" || key === "Z")) {
      event.preventDefault();
      if (event.shiftKey) redo(); else undo();
      return;
    }
    if (mod && (key === "y" || key === "Y")) {
      event.preventDefault();
      redo();
      return;
    }
    if (mod || event.altKey) return;
    var step = event.shiftKey ? 10 : 1;
    var handled = true;
    switch (key) {
      case "ArrowLeft": movePoint(-step, 0); break;
      case "ArrowRight": movePoint(step, 0); break;
      case "ArrowUp": movePoint(0, -step); break;
      case "ArrowDown": movePoint(0, step); break;
      case "]": stepPoint(1); break;
      case "[": stepPoint(-1); break;
      case ".": stepShape(1); break;
      case ",": stepShape(-1); break;
      case "a": case "A": case "Insert": addPoint(null); break;
      case "Delete": case "Backspace": deletePoint(); break;
      case "Enter": finishShape(); break;
      case "Escape": state.drawing = null; state.point = -1; changed(); break;
      case "r": case "R": reverseLine(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  }
  canvas.addEventListener("keydown", onKey);
  // Undo and redo also work from the buttons and the side panel, not only on the canvas.
  document.addEventListener("keydown", function (event) {
    if (event.target === canvas) return;
    var tag = event.target && event.target.tagName;
    if ((event.ctrlKey || event.metaKey) && tag !== "INPUT" && tag !== "TEXTAREA") {
      if (event.key === "z" || event.key === "Z" || event.key === "y" || event.key === "Y") onKey(event);
    }
  });

  function on(id, handler) {
    var el = document.getElementById(id);
    if (el) el.addEventListener("click", handler);
  }
  on("add-polygon", function () { addShape("polygon"); });
  on("add-line", function () { addShape("line"); });
  on("finish-shape", finishShape);
  on("add-point", function () { addPoint(null); canvas.focus(); });
  on("prev-point", function () { stepPoint(-1); });
  on("next-point", function () { stepPoint(1); });
  on("delete-point", deletePoint);
  on("delete-shape", deleteShape);
  on("reverse-line", reverseLine);
  on("undo", undo);
  on("redo", redo);
  on("roi-preview-button", openPreview);
  on("roi-preview-close", function () { preview.hidden = true; canvas.focus(); });
  document.getElementById("roi-apply-form").addEventListener("submit", apply);
  // A field's edit is one undo step when it is committed (change), live on the canvas (input).
  nameInput.addEventListener("change", function () { setName(nameInput.value.trim()); });
  side1.addEventListener("change", function () { setSide("side1_name", side1.value); });
  side2.addEventListener("change", function () { setSide("side2_name", side2.value); });

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      draw();
      if (!preview.hidden) drawPreview();
    });
  }
  if (window.ResizeObserver) new ResizeObserver(schedule).observe(canvas.parentElement);
  window.addEventListener("resize", schedule);

  if (data.frame_url) {
    var image = new Image();
    image.addEventListener("load", function () {
      still = image;
      canvas.dataset.still = "drawn";
      schedule();
    });
    image.src = data.frame_url;
  }
  changed();
})();
