# Your first bound, as on the home page: run as shown when the site is built.
from snippets import hardware, models, roofline

gpu = hardware.get("H100 SXM")
step = roofline.decode_step(models.get("Llama-3.1-8B"), batch=1, context=0, weight_dtype="bf16")
print(f"{step.time_s(gpu) * 1e3:.2f} ms per token at best on the {gpu.name}")
