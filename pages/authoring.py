"""Values and claims of docs/authoring.md: the example of how a page is written."""

from __future__ import annotations

from pages.claims import claim
from snippets import hardware

PAGE = "authoring.md"

h100 = hardware.get("H100 SXM")
# --8<-- [start:claim]
ridge = h100.ridge_point("bf16")  # FLOP/byte where the compute roof meets the memory roof
needs_hundreds = claim("the H100 SXM needs hundreds of FLOPs per byte to be compute-bound", ridge > 100)
# --8<-- [end:claim]
