// "Report an error" (overrides/main.html): when followed, the prefilled issue also names the
// section the reader is in (the last heading above the top of the window) and links to it.
(function () {
  "use strict";
  var link = document.querySelector(".course-errata__link");
  if (!link) return;
  function section() {
    var found = null;
    document.querySelectorAll(".md-content h2[id], .md-content h3[id]").forEach(function (h) {
      if (h.getBoundingClientRect().top < 120) found = h;
    });
    return found;
  }
  function update() {
    var h = section();
    var name = h ? h.textContent.replace(/¶$/, "").trim() + " (#" + h.id + ")" : "the whole page";
    var body = "Page: " + link.dataset.page + "\nSection: " + name + "\n\nWhat is wrong, and what should it say?\n";
    link.href = link.dataset.repo + "/issues/new?title=" + encodeURIComponent(link.dataset.title) +
      "&body=" + encodeURIComponent(body);
  }
  ["pointerdown", "focus", "keydown"].forEach(function (e) { link.addEventListener(e, update); });
})();
