// Charts: every <div data-chart="ID"> is drawn with uPlot from the JSON in
// <script type="application/json" id="ID">: {timezone, unit, ts: [epoch s], lines: [{label,
// values}], band: {ts, value, lower, upper} | null}. Times are shown in the data's timezone.
(function () {
  "use strict";
  var COLOURS = { Actual: "#0b6e55", Baseline: "#55606d", Forecast: "#1a56db" };

  function kwh(value) {
    if (value == null) return "—";
    return (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1)) + " kWh";
  }

  function formatter(timezone, parts) {
    return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: timezone }, parts));
  }

  // Axis labels and the legend's time in the data's timezone, 24-hour clock.
  function timeFormats(timezone) {
    var hour = formatter(timezone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    var day = formatter(timezone, { weekday: "short", day: "numeric", month: "short" });
    var full = formatter(timezone, {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
    });
    return {
      ticks: function (u, splits, axisIdx, space, increment) {
        return splits.map(function (seconds) {
          var moment = new Date(seconds * 1e3);
          if (increment >= 86400) return day.format(moment);
          var time = hour.format(moment);
          return time === "00:00" ? time + "\n" + day.format(moment) : time;
        });
      },
      legend: function (u, seconds) {
        return seconds == null ? "—" : full.format(new Date(seconds * 1e3));
      },
    };
  }

  function build(data) {
    var ts = data.ts.slice();
    var lines = data.lines.map(function (line) { return line.values.slice(); });
    var labels = data.lines.map(function (line) { return line.label; });
    var band = data.band;
    if (band && band.ts && band.ts.length) {
      // The forecast continues after the last hour shown: pad the other lines with gaps.
      var pad = band.ts.map(function () { return null; });
      ts = ts.concat(band.ts);
      lines = lines.map(function (values) { return values.concat(pad); });
      var before = data.ts.map(function () { return null; });
      lines.push(before.concat(band.value || pad));
      lines.push(before.concat(band.upper));
      lines.push(before.concat(band.lower));
      labels.push("Forecast", "Forecast upper", "Forecast lower");
    }
    return { ts: ts, lines: lines, labels: labels, hasBand: !!(band && band.ts && band.ts.length) };
  }

  function options(el, data, built) {
    var formats = timeFormats(data.timezone);
    var series = [{ label: "Time (" + data.timezone + ")", value: formats.legend }];
    built.labels.forEach(function (label, position) {
      var base = label.split(" ")[0];
      var bound = label !== base;
      var value = function (u, v) { return kwh(v); };
      if (label === "Forecast") {
        // The forecast's legend entry carries its range (the bounds' own entries are hidden).
        value = function (u, v, seriesIndex, index) {
          if (v == null) return "—";
          var upper = built.lines[position + 1][index], lower = built.lines[position + 2][index];
          return kwh(v) + (lower == null || upper == null ? "" : " (" + kwh(lower) + " – " + kwh(upper) + ")");
        };
      }
      series.push({
        label: label + " (kWh)",
        stroke: bound ? "rgba(26,86,219,0.35)" : (COLOURS[base] || "#333"),
        width: bound ? 1 : 2,
        dash: base === "Baseline" || base === "Forecast" ? [6, 4] : undefined,
        spanGaps: false,
        show: true,
        value: value,
      });
    });
    var opts = {
      width: Math.max(el.clientWidth, 240),
      height: parseInt(el.getAttribute("data-height") || "260", 10),
      tzDate: function (seconds) { return uPlot.tzDate(new Date(seconds * 1e3), data.timezone); },
      series: series,
      // Day labels ("Wed 25 Nov") need more room than hour labels ("08:00").
      axes: [{ values: formats.ticks, space: function (u, axisIdx, min, max) { return max - min > 3 * 86400 ? 90 : 60; } }, { label: "kWh", size: 60, values: function (u, splits) { return splits.map(function (v) { return v == null ? "" : v.toLocaleString(); }); } }],
      scales: { y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      legend: { live: true },
      padding: [12, 28, 0, 0],
    };
    if (built.hasBand) {
      var upper = series.length - 2, lower = series.length - 1;
      opts.bands = [{ series: [upper, lower], fill: "rgba(26,86,219,0.12)" }];
    }
    if (data.highlight) {
      // Shade a period (an alert's) behind the lines.
      opts.hooks = { drawClear: [function (u) {
        var left = Math.max(u.valToPos(data.highlight[0], "x", true), u.bbox.left);
        var right = Math.min(u.valToPos(data.highlight[1], "x", true), u.bbox.left + u.bbox.width);
        if (right <= left) return;
        u.ctx.save();
        u.ctx.fillStyle = "rgba(240, 180, 40, 0.18)";
        u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
        u.ctx.restore();
      }] };
    }
    return opts;
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-chart"));
    if (!source || typeof uPlot === "undefined") return;
    render(el, JSON.parse(source.textContent));
  }

  function render(el, data) {
    var built = build(data);
    var plot = new uPlot(options(el, data, built), [built.ts].concat(built.lines), el);
    // The band's bounds are drawn, but told in the forecast's legend entry.
    var rows = plot.root.querySelectorAll(".u-legend .u-series");
    built.labels.forEach(function (label, position) {
      if (label !== label.split(" ")[0] && rows[position + 1]) rows[position + 1].style.display = "none";
    });
    el.setAttribute("data-points", String(data.ts.length));
    el.setAttribute("data-points-with-data", String(data.lines.length ? data.lines[0].values.filter(function (v) { return v != null; }).length : 0));
    el.setAttribute("data-rendered", "true");
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(el.clientWidth, 240), height: plot.height });
      }).observe(el);
    }
  }

  // A chart fetched when its <details data-alert-chart="URL"> is first opened.
  function drawOnOpen(details) {
    details.addEventListener("toggle", function () {
      if (!details.open || details.getAttribute("data-loaded")) return;
      details.setAttribute("data-loaded", "loading");
      var el = details.querySelector(".chart");
      fetch(details.getAttribute("data-alert-chart"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          details.setAttribute("data-loaded", "true");
          if (!data.points_with_data) {
            el.className = "chart-empty";
            el.textContent = "No readings in these hours.";
            return;
          }
          el.className = "chart";
          el.textContent = "";
          render(el, data);
        })
        .catch(function () {
          details.removeAttribute("data-loaded");
          el.className = "chart-empty";
          el.textContent = "The chart could not be loaded. Close and open this again to retry.";
        });
    });
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
  document.querySelectorAll("[data-alert-chart]").forEach(drawOnOpen);
})();
