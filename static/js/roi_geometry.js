/* The ROI geometry checks, mirrored line by line from tasks/roi_geometry.py (the server's copy,
 * used by the API's validation). tests/roi_geometry_cases.json holds the cases both must agree
 * on; the browser test runs them against this file. Exposes window.RoiGeometry.
 *
 * A problem is {code, shape (index or null), params}; the page formats its message from the
 * translated templates it hands over with json_script.
 */
(function (root) {
  "use strict";

  var ASSUMED_LIMIT = { width: 3840, height: 2160 };
  var MAX_SHAPES = 100;
  var MAX_POINTS = 1000;
  var MAX_NAME = 100;
  var MAX_POINTS_FOR_CROSSING_CHECK = 200;
  var SERVICE_LIMITS = {
    "c-vehicle-detection-edge": { line: 2 },
    "c-vehicle-detection-cloud": { line: 2 },
  };

  function polygonArea(points) {
    if (points.length < 3) return 0;
    var total = 0;
    for (var i = 0; i < points.length; i++) {
      var a = points[i], b = points[(i + 1) % points.length];
      total += a[0] * b[1] - b[0] * a[1];
    }
    var area = Math.abs(total) / 2;
    return isFinite(area) ? area : 0;
  }

  function orient(a, b, c) {
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  }

  function onSegment(a, b, c) {
    return Math.min(a[0], b[0]) <= c[0] && c[0] <= Math.max(a[0], b[0]) &&
      Math.min(a[1], b[1]) <= c[1] && c[1] <= Math.max(a[1], b[1]);
  }

  function segmentsCross(p1, p2, q1, q2) {
    var d1 = orient(q1, q2, p1), d2 = orient(q1, q2, p2);
    var d3 = orient(p1, p2, q1), d4 = orient(p1, p2, q2);
    if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) {
      return true;
    }
    return (d1 === 0 && onSegment(q1, q2, p1)) || (d2 === 0 && onSegment(q1, q2, p2)) ||
      (d3 === 0 && onSegment(p1, p2, q1)) || (d4 === 0 && onSegment(p1, p2, q2));
  }

  function isSelfIntersecting(points) {
    var n = points.length;
    if (n < 4) return false;
    for (var i = 0; i < n; i++) {
      for (var j = i + 1; j < n; j++) {
        if (j === i + 1 || (i === 0 && j === n - 1)) continue;
        if (segmentsCross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n])) {
          return true;
        }
      }
    }
    return false;
  }

  function samePoint(a, b) {
    return a[0] === b[0] && a[1] === b[1];
  }

  function collinear(points) {
    var first = points[0], other = null;
    for (var i = 0; i < points.length; i++) {
      if (!samePoint(points[i], first)) { other = points[i]; break; }
    }
    if (other === null) return true;
    return points.every(function (p) { return orient(first, other, p) === 0; });
  }

  function checkFrame(frame) {
    if (frame && frame.assumed === false && Number.isInteger(frame.width) &&
        Number.isInteger(frame.height) && frame.width > 0 && frame.height > 0) {
      return { width: frame.width, height: frame.height };
    }
    return { width: ASSUMED_LIMIT.width, height: ASSUMED_LIMIT.height };
  }

  function limitsFor(service) {
    var known = SERVICE_LIMITS[service || ""] || {};
    return {
      polygon: known.polygon !== undefined ? known.polygon : MAX_SHAPES,
      line: known.line !== undefined ? known.line : MAX_SHAPES,
    };
  }

  function whole(value) {
    return typeof value === "number" && isFinite(value) && Math.floor(value) === value;
  }

  function problem(code, shape, params) {
    return { code: code, shape: shape, params: params || {} };
  }

  function propertiesOk(properties) {
    if (!properties || typeof properties !== "object" || Array.isArray(properties)) return false;
    return ["side1_name", "side2_name"].every(function (key) {
      var value = properties[key];
      return value === undefined || value === null ||
        (typeof value === "string" && value.length <= MAX_NAME);
    });
  }

  function shapeProblems(shapes, frame, limits) {
    if (!Array.isArray(shapes)) return [problem("invalid_shapes", null)];
    var bounds = checkFrame(frame);
    limits = limits || limitsFor(null);
    var problems = [];
    var counts = { polygon: 0, line: 0 };
    var names = {};
    shapes.forEach(function (shape, index) {
      var number = index + 1;
      var isObject = shape && typeof shape === "object" && !Array.isArray(shape);
      var kind = isObject ? shape.kind : null;
      var points = isObject ? shape.points : null;
      if ((kind !== "polygon" && kind !== "line") || !Array.isArray(points)) {
        problems.push(problem("invalid_shape", index, { number: number }));
        return;
      }
      counts[kind] += 1;
      var name = shape.name;
      if (name !== undefined && name !== null && (typeof name !== "string" || name.length > MAX_NAME)) {
        problems.push(problem("invalid_name", index, { number: number, max: MAX_NAME }));
      } else if (typeof name === "string" && name.trim()) {
        var key = name.trim();
        if (Object.prototype.hasOwnProperty.call(names, key)) {
          problems.push(problem("duplicate_name", index, { number: number, name: key, other: names[key] + 1 }));
        } else {
          names[key] = index;
        }
      }
      if (shape.properties !== undefined && shape.properties !== null && !propertiesOk(shape.properties)) {
        problems.push(problem("invalid_properties", index, { number: number, max: MAX_NAME }));
      }
      var badPoint = -1;
      for (var i = 0; i < points.length; i++) {
        var p = points[i];
        if (!(Array.isArray(p) && p.length === 2 && whole(p[0]) && whole(p[1]))) { badPoint = i; break; }
      }
      if (badPoint >= 0) {
        problems.push(problem("invalid_point", index, { number: number, point: badPoint + 1 }));
        return;
      }
      if (points.length > MAX_POINTS) {
        problems.push(problem("too_many_points", index, { number: number, max: MAX_POINTS }));
        return;
      }
      var minimum = kind === "polygon" ? 3 : 2;
      if (points.length < minimum) {
        problems.push(problem("too_few_points", index, { number: number, count: points.length, kind: kind, minimum: minimum }));
      } else if (kind === "line" && points.length !== 2) {
        problems.push(problem("wrong_point_count", index, { number: number, count: points.length }));
      } else if (kind === "line" && samePoint(points[0], points[1])) {
        problems.push(problem("zero_length", index, { number: number }));
      } else if (kind === "polygon") {
        if (collinear(points)) {
          problems.push(problem("zero_area", index, { number: number }));
        } else if (points.length <= MAX_POINTS_FOR_CROSSING_CHECK && isSelfIntersecting(points)) {
          problems.push(problem("self_intersecting", index, { number: number }));
        } else if (polygonArea(points) === 0) {
          problems.push(problem("zero_area", index, { number: number }));
        }
      }
      if (points.some(function (q) { return q[0] < 0 || q[1] < 0 || q[0] > bounds.width || q[1] > bounds.height; })) {
        problems.push(problem("out_of_frame", index, { number: number, width: bounds.width, height: bounds.height }));
      }
    });
    ["polygon", "line"].forEach(function (kind) {
      if (counts[kind] > limits[kind]) {
        problems.push(problem("too_many_shapes", null, { count: counts[kind], kind: kind, max: limits[kind] }));
      }
    });
    return problems;
  }

  /* "%(name)s" templates, as Python's %-formatting fills them. */
  function describe(p, template) {
    var text = typeof template === "string" ? template : p.code;
    return text.replace(/%\((\w+)\)s/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(p.params, key) ? String(p.params[key]) : all;
    });
  }

  /* The same string tasks.roi_geometry.target_roi_string builds (polygons, then lines). */
  function targetRoiString(shapes) {
    var out = {};
    shapes.forEach(function (shape) {
      var item = { data: shape.points.map(function (p) { return [p[0], p[1]]; }) };
      if (typeof shape.name === "string" && shape.name.trim()) item.name = shape.name.trim();
      if (shape.properties && typeof shape.properties === "object" && Object.keys(shape.properties).length) {
        item.properties = shape.properties;
      }
      var key = shape.kind === "polygon" ? "polygons" : "lines";
      (out[key] = out[key] || []).push(item);
    });
    var ordered = {};
    ["polygons", "lines"].forEach(function (key) { if (out[key]) ordered[key] = out[key]; });
    return JSON.stringify(ordered);
  }

  root.RoiGeometry = {
    shapeProblems: shapeProblems,
    limitsFor: limitsFor,
    checkFrame: checkFrame,
    describe: describe,
    targetRoiString: targetRoiString,
    polygonArea: polygonArea,
    isSelfIntersecting: isSelfIntersecting,
  };
})(window);
