// Figures on a narrow screen. A course figure is an inline SVG drawn for a page about 690 px wide;
// on a phone it would shrink with its text to 7 CSS px. Each figure goes into a container that
// scrolls sideways (focusable, like Material's wide tables); below 48em (course.css) the figure
// keeps the width at which its smallest text is 11 CSS px, and a link opens it alone, full size.
// Runs on every page view, including Material's instant navigation when it is enabled.
const LEGIBLE_PX = 11;   // smallest text on a phone
const ALONE_PX = 13;     // smallest text of the figure opened alone

function smallestFontUnits(svg) {
  let smallest = Infinity;
  svg.querySelectorAll("text").forEach((t) => {
    const size = parseFloat(getComputedStyle(t).fontSize);
    if (size > 0 && size < smallest) smallest = size;
  });
  return smallest;
}

function figureAlone(svg, width, height) {
  const copy = svg.cloneNode(true);
  copy.setAttribute("width", width);
  copy.setAttribute("height", height);
  copy.removeAttribute("style");
  copy.setAttribute("style", "background:#ffffff;color:#1f2328");
  const xml = new XMLSerializer().serializeToString(copy);
  return URL.createObjectURL(new Blob([xml], { type: "image/svg+xml" }));
}

function legibleFigures() {
  document.querySelectorAll(".md-content svg.course-figure").forEach((svg) => {
    if (svg.parentElement.classList.contains("course-figure-scroll")) return;
    const view = svg.viewBox && svg.viewBox.baseVal;
    const smallest = smallestFontUnits(svg);
    const box = document.createElement("div");
    box.className = "course-figure-scroll";
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    const title = svg.querySelector("title");
    box.setAttribute("aria-label", `${title ? title.textContent : "Figure"}; scrolls sideways`);
    svg.replaceWith(box);
    box.appendChild(svg);
    if (!view || !view.width || !isFinite(smallest)) return;
    const legible = Math.ceil(view.width * LEGIBLE_PX / smallest);
    svg.style.setProperty("--course-figure-legible-width", `${legible}px`);
    const scale = ALONE_PX / smallest;
    const link = document.createElement("a");
    link.className = "course-figure-open";
    link.href = figureAlone(svg, Math.ceil(view.width * scale), Math.ceil(view.height * scale));
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Open this figure alone, full size";
    box.after(link);
  });
}
// Idempotent: a figure already wrapped is left alone, so running on both signals is safe.
if (typeof document$ !== "undefined") document$.subscribe(legibleFigures);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", legibleFigures);
else legibleFigures();
