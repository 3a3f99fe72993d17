"""One Python module per course page: the values its prose cites and the claims it makes.

How a page is written (README, "Writing a page"):

- Prose stays Markdown. A number in a sentence is a named value from the page's module,
  written as inline code: `#!val ch1.ridge:.1f` renders pages/ch1.py's `ridge` with the
  format spec `.1f`; `#!val ch1.a100.name` reads an attribute. `#!math ch1.ridge_tex` renders
  a TeX string as MathML. An unknown name fails the strict build (pages.values).
- Every qualitative claim in the prose ("memory-bound at every batch") is asserted in the
  module with `claim(...)` beside the value it rests on, so data that falsifies it fails
  the build and the tests (pages.claims).
- Tables, figures and shown code run at build time in markdown-exec blocks that call the
  module, `vis` and `snippets`; shown code is included from sections of files in
  pages/listings/ and run as it is shown.
- Tests import the modules (tests/test_pages.py); `python -m pages` writes a snapshot of every
  page's values to pages/snapshots/, so a changed number shows up as a diff for review.
"""
