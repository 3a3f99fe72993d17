// Scrollable regions (wide tables, display math, notebook code) must be reachable by keyboard.
// Runs on every page view, including Material's instant navigation when it is enabled.
function focusableScrollRegions() {
  document.querySelectorAll(".md-typeset__scrollwrap, .math-display, .highlight-ipynb, .jp-OutputArea-output pre")
    .forEach((el) => { if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0"); });
  // a code block wider than its column, with nothing inside it to focus (a notebook's cell)
  document.querySelectorAll(".highlight > pre").forEach((el) => {
    if (el.scrollWidth > el.clientWidth && !el.querySelector("[tabindex]") && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
    }
  });
}
if (typeof document$ !== "undefined") document$.subscribe(focusableScrollRegions);
else document.addEventListener("DOMContentLoaded", focusableScrollRegions);
