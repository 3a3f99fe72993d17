# Serve a short run of the page's seeded workload on the roofline of a named GPU: whole prompts,
# then chunked.
# Every setting comes from pages/ch3.py, the module that computes the page's numbers.
from pages.ch3 import (
    CHUNKED,
    DTYPE,
    GPU,
    MODEL,
    PAGED,
    POLICIES,
    RATE,
    SEED,
    SHORT_REQUESTS,
    SLO,
    SLO_PERCENTILE,
    WORKLOAD,
)
from snippets import hardware, kv_cache, models, serving

gpu, model = hardware.get(GPU), models.get(MODEL)
capacity = kv_cache.max_tokens(model, gpu, DTYPE, DTYPE)  # tokens of cache beside the weights
step_time = serving.RooflineStepTime(model, gpu, DTYPE, DTYPE, DTYPE)  # or a measured model: same call
requests = serving.Workload(n_requests=SHORT_REQUESTS, rate_per_s=RATE, seed=SEED, **WORKLOAD).requests()

for policy in (p for p in POLICIES if p.name in (PAGED, CHUNKED)):
    sim = serving.simulate(requests, policy, step_time, capacity)
    ttft = serving.percentile([s.ttft_s for s in sim.served], SLO_PERCENTILE)
    tpot = serving.percentile([s.tpot_s for s in sim.served], SLO_PERCENTILE)
    print(f"- {policy.name}: {len(sim.steps):,} steps, p{SLO_PERCENTILE} TTFT {ttft * 1e3:.0f} ms, "
          f"p{SLO_PERCENTILE} TPOT {tpot * 1e3:.1f} ms, {serving.slo_attainment(sim.served, SLO):.0%} meet both targets")
