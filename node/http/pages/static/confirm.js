// Ask before a consequential action, in the page's native <dialog> (see node/http/pages/confirm.py:
// without this script, the server asks on a page of its own).
(function () {
  "use strict";
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var question = dialog.querySelector("[data-question]");
  var ok = dialog.querySelector("button[value=ok]");
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.elements.namedItem("confirmed")) return;
    event.preventDefault();
    pending = form;
    question.textContent = form.dataset.confirm;
    ok.textContent = form.dataset.confirmButton || ok.dataset.label;
    dialog.returnValue = "";
    dialog.showModal();
  });
  dialog.addEventListener("close", function () {
    var form = pending;
    pending = null;
    if (!form || dialog.returnValue !== "ok") return;
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "1";
    form.appendChild(confirmed);
    form.submit();
  });
})();
