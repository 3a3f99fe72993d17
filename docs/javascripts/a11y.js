// Scrollable regions (wide tables, display math, notebook code) must be reachable by keyboard.
// Runs on every page view, including Material's instant navigation when it is enabled.
function focusableScrollRegions() {
  document.querySelectorAll(".md-typeset__scrollwrap, .math-display, .highlight-ipynb, .jp-OutputArea-output pre")
    .forEach((el) => { if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "0"); });
}
if (typeof document$ !== "undefined") document$.subscribe(focusableScrollRegions);
else document.addEventListener("DOMContentLoaded", focusableScrollRegions);
