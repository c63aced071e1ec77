// The map of /map: départements shaded by their number of matches, communes as points sized by theirs,
// from the GeoJSON API, drawn by the vendored Leaflet with no tile server. Without this script (or
// without Leaflet) the page keeps its tables and its list: the map box stays hidden.
(function () {
  "use strict";
  var box = document.getElementById("map");
  if (!box || typeof L === "undefined" || !window.fetch) { return; }
  var FRANCE = [[41.3, -5.2], [51.1, 9.6]];

  function searchLink(params) {
    var query = new URLSearchParams(box.dataset.communes.split("?")[1] || "");
    Object.keys(params).forEach(function (key) {
      if (params[key] === null) { query.delete(key); } else { query.set(key, params[key]); }
    });
    return "/proposals?" + query.toString();
  }

  function popup(properties, href) {
    var node = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = (properties.kind === "departement" ? properties.code + " · " : "") + properties.name;
    var figures = document.createElement("dl");
    [[box.dataset.offers, properties.offers], [box.dataset.demands, properties.requests]].forEach(function (pair) {
      var term = document.createElement("dt");
      var value = document.createElement("dd");
      term.textContent = pair[0];
      value.textContent = String(pair[1]);
      figures.appendChild(term);
      figures.appendChild(value);
    });
    var link = document.createElement("a");
    link.href = href;
    link.textContent = box.dataset.search;
    node.appendChild(title);
    node.appendChild(figures);
    node.appendChild(link);
    return node;
  }

  function shade(total, most) {
    if (!total) { return "#f4f6f8"; }
    var share = Math.sqrt(total / most);
    var light = Math.round(88 - share * 48);
    return "hsl(205, 60%, " + light + "%)";
  }

  function load(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (answer) {
      if (!answer.ok) { throw new Error(String(answer.status)); }
      return answer.json();
    });
  }

  Promise.all([load(box.dataset.departements), load(box.dataset.communes)]).then(function (both) {
    box.hidden = false;
    var map = L.map(box, { zoomSnap: 0.5, attributionControl: false });
    var departements = both[0].features;
    var most = Math.max.apply(null, departements.map(function (f) { return f.properties.total; }).concat([1]));
    L.geoJSON(both[0], {
      style: function (feature) {
        return { color: "#6b7c8c", weight: 1, fillColor: shade(feature.properties.total, most), fillOpacity: 0.8 };
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.bindPopup(popup(p, searchLink({ departement: p.code, commune: null, radius: null })));
      }
    }).addTo(map);
    var points = L.featureGroup();
    both[1].features.forEach(function (feature) {
      var p = feature.properties;
      var at = [feature.geometry.coordinates[1], feature.geometry.coordinates[0]];
      L.circleMarker(at, {
        radius: 5 + 3 * Math.sqrt(p.total), color: "#7a2e0e", weight: 1, fillColor: "#e4572e", fillOpacity: 0.85,
        className: "map-point"
      }).bindPopup(popup(p, searchLink({ commune: p.code, radius: "2", departement: null }))).addTo(points);
    });
    points.addTo(map);
    if (points.getLayers().length) {
      map.fitBounds(points.getBounds().pad(0.3), { maxZoom: 11 });
    } else {
      map.fitBounds(FRANCE);
    }
  }).catch(function () { box.hidden = true; });
}());
