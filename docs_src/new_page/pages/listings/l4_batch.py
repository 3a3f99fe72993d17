# The first decode batch that is compute-bound on an L4: shown on docs/l4.md and run as shown.
from snippets import hardware, models, roofline

l4, llama = hardware.get("L4"), models.get("Llama-3.1-8B")
batch = roofline.first_compute_bound_batch(lambda b: roofline.decode_step(llama, b, 0, "bf16"), l4)
print(f"{l4.name}: ridge {l4.ridge_point('bf16'):.0f} FLOP/byte; decode is compute-bound from batch {batch}")
