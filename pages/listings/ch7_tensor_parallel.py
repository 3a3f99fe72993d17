# Split Llama's MLP over 2 and over 4 CPU processes (torch.distributed, gloo) and compare each
# split result with the unsplit MLP on the same seeded input and weights.
from snippets.tensor_parallel import RELATIVE_TOLERANCE, run_exactness

ROUNDINGS = 1e-6  # printed as a bound below it

for r in run_exactness((2, 4), tokens=4, d_model=64, hidden=256, seed=0):
    verdict = "equal within the tolerance" if r.exact else "NOT equal"
    # a few float32 roundings (epsilon 1.2e-7), whose last digits differ between CPUs: say how small
    gap = f"under {ROUNDINGS:.0e}" if r.relative_error < ROUNDINGS else f"{r.relative_error:.1e}"
    print(f"- {r.world} ranks: outputs up to {r.max_abs_output:.2f}, largest relative gap {gap} "
          f"(tolerance {RELATIVE_TOLERANCE:.0e}): {verdict}")
