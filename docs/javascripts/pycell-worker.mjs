// The Python of the editable cells (pycells.js): Pyodide from this site's pyodide/, loaded on the
// first message, and snippets/formulas.py written where `import formulas` finds it.
let ready = null;

async function load(site) {
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", site).href);
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", site).href });
  const response = await fetch(new URL("pycells/formulas.py", site));
  if (!response.ok) throw new Error("formulas.py: HTTP " + response.status);
  pyodide.FS.writeFile("/home/pyodide/formulas.py", await response.text());
  pyodide.runPython("import sys\nif '/home/pyodide' not in sys.path: sys.path.insert(0, '/home/pyodide')");
  return pyodide;
}

self.onmessage = async (event) => {
  const { id, site, code } = event.data;
  let out = "";
  try {
    if (!ready) {
      self.postMessage({ id, status: "Loading Python (once per page)…" });
      ready = load(site);
    }
    const pyodide = await ready;
    pyodide.setStdout({ batched: (line) => { out += line + "\n"; } });
    pyodide.setStderr({ batched: (line) => { out += line + "\n"; } });
    // a fresh namespace per run, like the build's
    const globals = pyodide.toPy({ __name__: "__cell__" });
    try {
      pyodide.runPython(code, { globals });
    } finally {
      globals.destroy();
    }
    self.postMessage({ id, out });
  } catch (error) {
    let message = String(error && error.message || error);
    // keep the Python traceback's last lines: the error the reader made, not Pyodide's frames
    const lines = message.trim().split("\n");
    const at = lines.findIndex((line) => line.includes('File "<exec>"'));
    if (at >= 0) message = "Traceback (most recent call last):\n" + lines.slice(at).join("\n") + "\n";
    self.postMessage({ id, out, error: message });
  }
};
