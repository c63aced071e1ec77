// Register the service worker that makes the node installable and shows a page when offline.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* pages work without it */ });
  });
}
