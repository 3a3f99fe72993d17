# The ridge point of a named GPU: shown on docs/authoring.md and run as shown.
from snippets import hardware

h100 = hardware.get("H100 SXM")
print(f"{h100.name}: {h100.ridge_point('bf16'):.0f} FLOP/byte (dense bf16 over HBM bandwidth)")
