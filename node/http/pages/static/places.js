/* Autocompletion of French communes for inputs marked `data-places` (progressive enhancement: the
   forms work without it). The input becomes an ARIA 1.2 combobox with a listbox of up to 10 communes
   from /api/v1/places; arrows move, Enter chooses, Escape closes. When `data-places-postal` names the
   postal code input, choosing a commune fills it, and typing 5 digits there fills a unique commune. */
(function () {
  "use strict";

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; });
  }

  function setup(input, index) {
    var postal = document.getElementById(input.getAttribute("data-places-postal") || "");
    var list = document.createElement("ul");
    var status = document.createElement("p");
    var items = [];
    var active = -1;
    var timer = null;
    var serial = 0;

    list.id = "places-listbox-" + index;
    list.className = "places-listbox";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.getAttribute("data-places-label") || "");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");
    input.parentNode.classList.add("places-field");

    function close() {
      list.hidden = true;
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(position) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) { return; }
      active = (position + options.length) % options.length;
      options.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function choose(position) {
      var place = items[position];
      if (!place) { return; }
      if (postal) {
        input.value = place.name;
        if (place.postal_codes.indexOf(postal.value.trim()) < 0 && place.postal_codes.length) {
          postal.value = place.postal_codes[0];
        }
      } else {
        input.value = place.label;
      }
      close();
    }

    function show(places) {
      items = places.slice(0, 10);
      clear(list);
      items.forEach(function (place, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = place.name + " (" + place.postal_codes.slice(0, 3).join(", ") + ") · " + place.departement;
        option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        list.appendChild(option);
      });
      status.textContent = items.length + " " + (input.getAttribute("data-places-found") || "");
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        active = -1;
      } else {
        close();
      }
    }

    function lookup() {
      var query = input.value.trim();
      var mine = ++serial;
      if (query.length < 2) { close(); return; }
      getJson("/api/v1/places?q=" + encodeURIComponent(query)).then(function (places) {
        if (mine === serial) { show(places); }
      }).catch(close);
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        if (list.hidden) { lookup(); } else { highlight(active + 1); }
        event.preventDefault();
      } else if (event.key === "ArrowUp" && !list.hidden) {
        highlight(active - 1);
        event.preventDefault();
      } else if (event.key === "Enter" && !list.hidden && active >= 0) {
        choose(active);
        event.preventDefault();
      } else if (event.key === "Escape" && !list.hidden) {
        close();
        event.preventDefault();
      }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 150); });

    if (postal) {
      postal.addEventListener("change", function () {
        var code = postal.value.trim();
        if (!/^\d{5}$/.test(code) || input.value.trim()) { return; }
        getJson("/api/v1/places/postal-codes/" + code).then(function (places) {
          if (places.length === 1 && !input.value.trim()) { input.value = places[0].name; }
        }).catch(function () {});
      });
    }
  }

  document.querySelectorAll("input[data-places]").forEach(setup);
}());
