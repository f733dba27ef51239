// Draws a dataset's points on the map of its page with Leaflet (served by
// chiase itself). The points come from the record API for the view on the
// page (its filters), 500 at a time, for the part of the map in sight: the
// first load fits the map to them, each move asks for the box in view.
// Without a tile server (`map_tiles`) the points sit on a plain background.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var d = el.dataset;
  var status = document.getElementById("map-status");
  var map = L.map(el, { preferCanvas: true, zoomSnap: 0.25, attributionControl: !!d.tiles });
  if (d.tiles) {
    L.tileLayer(d.tiles, { maxZoom: 18, attribution: d.attribution || "" }).addTo(map);
  } else {
    el.classList.add("no-tiles");
  }
  L.control.scale({ imperial: false }).addTo(map);
  // The province's outline (`map_outline`), a thin line under the points.
  if (d.outline) {
    fetch(d.outline, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (g) {
        L.geoJSON(g, { interactive: false, style: { color: "#5b6470", weight: 1.5, fill: false } }).addTo(map);
        el.dataset.outlineDrawn = "1";
      })
      .catch(function () {});
  }
  var layer = L.layerGroup().addTo(map);
  // Tuyên Quang, until the points are known.
  map.setView([22.1, 105.2], 8);
  var first = true;
  var asked = 0;

  function coordinates(r) {
    if (d.point) {
      var p = r[d.point];
      return p && typeof p[0] === "number" ? [p[1], p[0]] : null;
    }
    var y = r[d.lat], x = r[d.lon];
    return typeof y === "number" && typeof x === "number" ? [y, x] : null;
  }

  function label(r) {
    // Text only: a value is never read as HTML.
    var span = document.createElement("span");
    span.textContent = r[d.label] === undefined || r[d.label] === null ? "" : String(r[d.label]);
    return span;
  }

  function load() {
    var n = ++asked;
    var url = d.records + (d.records.indexOf("?") < 0 ? "?" : "&") + "limit=500";
    if (!first) {
      var b = map.getBounds();
      url += "&bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
        return Math.max(-180, Math.min(180, v)).toFixed(5);
      }).join(",");
    }
    status.textContent = d.loading;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (page) {
        if (n !== asked) return; // a later move asked again
        layer.clearLayers();
        var points = [];
        (page.records || []).forEach(function (r) {
          var ll = coordinates(r);
          if (!ll) return;
          points.push(ll);
          L.circleMarker(ll, { radius: 5, weight: 1, color: "#0b5cad", fillColor: "#2f80d1", fillOpacity: 0.75 })
            .bindPopup(label(r))
            .addTo(layer);
        });
        status.textContent = d.shown.replace("{n}", points.length) + (page.next ? " " + d.more : "");
        if (first && points.length) {
          first = false;
          map.fitBounds(points, { padding: [24, 24], maxZoom: 14 });
        }
        first = false;
      })
      .catch(function () { status.textContent = d.failed; });
  }

  map.on("moveend", function () { if (!first) load(); });
  load();
})();
