# Serve one seeded workload twice on the roofline of a named GPU: whole prompts, then chunked.
from snippets import hardware, kv_cache, models, serving

gpu = hardware.get("H100 SXM")
llama = models.get("Llama-3.1-8B")
capacity = kv_cache.max_tokens(llama, gpu, "bf16", "bf16")  # tokens of cache beside the weights
step_time = serving.RooflineStepTime(llama, gpu, "bf16", "bf16")  # or a measured model: same call
requests = serving.Workload(n_requests=200, rate_per_s=40.0, seed=1, prompt_min=256, prompt_max=2048,
                            output_mean=128, output_max=1024).requests()
slo = serving.SLO(ttft_s=1.0, tpot_s=0.020)

for policy in (serving.Policy("continuous, paged"), serving.Policy("paged + chunked prefill", chunk_tokens=512)):
    sim = serving.simulate(requests, policy, step_time, capacity)
    ttft = serving.percentile([s.ttft_s for s in sim.served], 90)
    tpot = serving.percentile([s.tpot_s for s in sim.served], 90)
    print(f"- {policy.name}: {len(sim.steps):,} steps, p90 TTFT {ttft * 1e3:.0f} ms, "
          f"p90 TPOT {tpot * 1e3:.1f} ms, {serving.slo_attainment(sim.served, slo):.0%} of requests on target")
