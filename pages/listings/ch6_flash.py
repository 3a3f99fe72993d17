# The online softmax and the split-KV merge of snippets/flash.py against softmax(QK^T)V, in float64.
import torch

from snippets.flash import blocked, merge_fixed, merge_mixed_bases, reference, split_kv, to_base_2

gen = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(n, 128, generator=gen, dtype=torch.float64) for n in (4, 1000, 1000))
exact = reference(q, k, v)


def difference(o):  # the last digits of float64 rounding differ between CPUs: say how small
    gap = (o - exact).abs().max().item()
    return "under 1e-15" if gap < 1e-15 else f"{gap:.1e}"


for block in (1, 7, 64, 1000):
    o, _ = blocked(q, k, v, block)
    print(f"blocks of {block:>4} keys: largest difference {difference(o)}")
for splits in (2, 8, 32):
    o, _ = split_kv(q, k, v, splits, block=64)
    print(f"{splits:>2} splits merged by log-sum-exp: largest difference {difference(o)}")

first, second = blocked(q, k[:500], v[:500], 64), blocked(q, k[500:], v[500:], 64)
as_base_2 = [(second[0], to_base_2(second[1]))]  # a kernel that reports log2 of its sum
wrong, _ = merge_mixed_bases([first], as_base_2)
right, _ = merge_fixed([first], as_base_2)
print(f"one lse in base 2, merged as base e: largest difference {(wrong - exact).abs().max().item():.2f}")
print(f"converted to base e first:          largest difference {difference(right)}")
