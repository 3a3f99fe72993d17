// Editable Python cells (pages/cells.py). Nothing loads until a cell's first Run: then a module
// Web Worker (pycell-worker.mjs) loads Pyodide from this site's pyodide/ and the course's
// formulas.py from pycells/, and stays for the page. Stop terminates the worker (an endless loop
// included); the next Run starts a fresh one.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.Worker) return;
  var here = new URL(".", script.src);          // .../javascripts/
  var site = new URL("..", here).href;          // the site's root
  var worker = null, busy = null, seq = 0;

  function show(cellEl, text, failed) {
    var result = cellEl.querySelector(".pycell-result");
    var out = cellEl.querySelector(".pycell-out");
    result.hidden = false;
    out.classList.toggle("pycell-error", !!failed);
    out.querySelector("code").textContent = text;  // Material adds a copy button before it
  }

  function finish() {
    if (!busy) return;
    busy.querySelector(".pycell-run").disabled = false;
    busy.querySelector(".pycell-stop").hidden = true;
    busy = null;
  }

  function start() {
    worker = new Worker(new URL("pycell-worker.mjs", here), { type: "module" });
    worker.onmessage = function (event) {
      var msg = event.data;
      if (!busy || msg.id !== seq) return;
      if (msg.status) { show(busy, msg.status, false); return; }
      show(busy, msg.error ? msg.out + msg.error : msg.out, !!msg.error);
      finish();
    };
    worker.onerror = function (event) {
      if (busy) { show(busy, "Python could not start: " + (event.message || "the worker failed"), true); }
      finish();
      worker = null;
    };
  }

  function run(cellEl) {
    if (busy) return;
    if (!worker) start();
    busy = cellEl;
    seq += 1;
    cellEl.querySelector(".pycell-run").disabled = true;
    cellEl.querySelector(".pycell-stop").hidden = false;
    show(cellEl, "Running…", false);
    worker.postMessage({ id: seq, site: site, code: cellEl.querySelector(".pycell-code").value });
  }

  function stop(cellEl) {
    if (busy !== cellEl) return;
    if (worker) worker.terminate();
    worker = null;
    show(cellEl, "Stopped. The next Run starts Python again.", true);
    finish();
    cellEl.querySelector(".pycell-run").focus();
  }

  document.querySelectorAll(".pycell").forEach(function (cellEl) {
    var runButton = cellEl.querySelector(".pycell-run");
    var stopButton = cellEl.querySelector(".pycell-stop");
    runButton.hidden = false;
    runButton.addEventListener("click", function () { run(cellEl); });
    stopButton.addEventListener("click", function () { stop(cellEl); });
    cellEl.querySelector(".pycell-code").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); run(cellEl); }
    });
  });
})();
