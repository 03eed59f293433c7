/* Review inbox: follow a background retrain (GET retrain.json) and reload when it has finished. */
(function () {
  "use strict";
  var status = document.getElementById("retrain-status");
  if (!status) { return; }
  var wasRunning = false;
  function poll() {
    fetch(status.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        status.textContent = job.text;
        status.dataset.state = job.state;
        if (job.state === "running") { wasRunning = true; setTimeout(poll, 3000); }
        else if (wasRunning) { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
}());
