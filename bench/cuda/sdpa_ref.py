# PyTorch's scaled_dot_product_attention at the micro's shapes (issue #7): packed QKV [B, S, 3, H, D] FP16 viewed
# as [B, H, S, D] (strided, as Kiln reads it) and contiguous; each backend torch has; CUDA-event median of 60 calls.
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

def bench(fn, n=60, reps=9):
    for _ in range(20): fn()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(n): fn()
        b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b) * 1000 / n)
    ts.sort(); return ts[len(ts) // 2]

for name, B, H, S, D, masked in [("vit_b64", 64, 12, 197, 64, False), ("bert_b32", 32, 12, 128, 64, True)]:
    qkv = torch.randn(B, S, 3, H, D, device="cuda", dtype=torch.float16)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    qc, kc, vc = (x.contiguous() for x in (q, k, v))
    mask = None
    if masked:
        keep = torch.arange(S, device="cuda")[None, :] < (S - (7 * torch.arange(B, device="cuda")) % S)[:, None]
        mask = torch.zeros(B, 1, 1, S, device="cuda", dtype=torch.float16).masked_fill(~keep[:, None, None, :], -10000.0)
    flop = 4 * B * H * S * S * D
    for be in [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]:
        for lay, (a, b, c) in [("strided", (q, k, v)), ("contig", (qc, kc, vc))]:
            try:
                with sdpa_kernel([be]):
                    t = bench(lambda: F.scaled_dot_product_attention(a, b, c, attn_mask=mask))
                print(f"{name} {be.name:20s} {lay:8s} {t:8.2f} us {flop / t / 1e6:7.1f} TFLOP/s")
            except Exception as e:
                print(f"{name} {be.name:20s} {lay:8s} n/a ({str(e).splitlines()[0][:80]})")
