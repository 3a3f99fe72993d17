# The seed's arithmetic with a real model on a named GPU: shown in chapter 1 and run as shown.
from snippets import hardware, models, roofline
from snippets.units import GB, GiB

a100 = hardware.get("A100 80GB SXM")
llama = models.get("Llama-2-7B")

n = models.param_count(llama)  # counted from the architecture in snippets/data/models.csv
every_weight = models.weight_bytes(llama, "fp16")  # the simple story: every parameter read
step = roofline.decode_step(llama, batch=1, context=0, weight_dtype="fp16")  # what a step reads

print(f"- {llama.name}: {n:,} parameters = {n / 1e9:.3f} B")
print(f"- fp16 weights: {every_weight / GB:.2f} GB ({every_weight / GiB:.2f} GiB)")
print(f"- read every weight at {a100.memory_bandwidth_GBps:,.0f} GB/s: "
      f"{every_weight / a100.bandwidth_Bps * 1e3:.2f} ms per token")
print(f"- what a step physically reads (one row of the input embedding, not the table): "
      f"{step.weight_bytes / GB:.2f} GB, so at least **{step.time_s(a100) * 1e3:.2f} ms per token**, "
      f"at most **{step.tokens_per_s(a100):.0f} tokens/s** on the {a100.name}")
