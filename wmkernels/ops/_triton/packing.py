"""Host side of the Triton backend: padded model and objective, tile sizes, scratch, grids.

``pack_model`` zero-pads the weights into power-of-two blocks of at least 16 (so the kernels
need no masks on them and every tl.dot dimension is >= 16); the padding is exact (see mlp.py).
"""
import torch
import triton

from . import settings

SKIP_IDENTITY, SKIP_MATRIX = 0, 1


def pad_dim(n: int, minimum: int = 16) -> int:
    """The padded size of a dimension: a power of two, at least `minimum` (tl.dot needs >= 16)."""
    return max(minimum, triton.next_power_of_2(int(n)))


def alloc(shape, device, dtype=torch.float32):
    """torch.empty, NaN-filled under WMK_POISON=1 (settings.poison)."""
    if settings.poison() and dtype.is_floating_point:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def as_f32(t):
    return t.to(torch.float32).contiguous()


def _padded(t, rows, cols):
    out = torch.zeros(rows, cols, dtype=torch.float32, device=t.device)
    out[:t.shape[0], :t.shape[1]] = t.to(torch.float32)
    return out


def pack_model(weights, biases, skip, activation: int):
    """The model (op argument block, wmkernels/ops/schema.py) as zero-padded float32 blocks.

    DP, AP, HP: padded state, action and (widest) hidden sizes. Returns a dict with
    wz [DP, HP], wa [AP, HP], wh [max(L-1,1), HP, HP], wo [HP, DP], s [DP, DP] (zeros block if
    identity), bh [L, HP], bo [DP], their transposes wzT, waT, whT, woT, sT, and meta data.
    """
    W = list(weights)
    D = W[-1].shape[1]
    A = W[0].shape[0] - D
    widths = [w.shape[1] for w in W[:-1]]
    L = len(widths)
    DP, AP, HP = pad_dim(D), pad_dim(A), pad_dim(max(widths))
    dev = W[0].device
    wz = _padded(W[0][:D], DP, HP)
    wa = _padded(W[0][D:], AP, HP)
    wh = torch.zeros(max(L - 1, 1), HP, HP, dtype=torch.float32, device=dev)
    for l in range(1, L):
        wh[l - 1, :W[l].shape[0], :W[l].shape[1]] = W[l].to(torch.float32)
    wo = _padded(W[-1], HP, DP)
    bh = torch.zeros(L, HP, dtype=torch.float32, device=dev)
    for l in range(L):
        bh[l, :widths[l]] = biases[l].to(torch.float32)
    bo = torch.zeros(DP, dtype=torch.float32, device=dev)
    bo[:D] = biases[-1].to(torch.float32)
    s = torch.zeros(16, 16, dtype=torch.float32, device=dev) if skip is None else _padded(skip, DP, DP)
    return dict(wz=wz, wa=wa, wh=wh, wo=wo, s=s, bh=bh, bo=bo,
                wzT=wz.t().contiguous(), waT=wa.t().contiguous(),
                whT=wh.transpose(1, 2).contiguous(), woT=wo.t().contiguous(), sT=s.t().contiguous(),
                D=D, A=A, L=L, DP=DP, AP=AP, HP=HP,
                skip=SKIP_IDENTITY if skip is None else SKIP_MATRIX, act=int(activation))


def pack_objective(step_weights, state_weights, DP: int):
    """(w [T], q [DP] zero-padded) as float32."""
    q = torch.zeros(DP, dtype=torch.float32, device=state_weights.device)
    q[:state_weights.numel()] = state_weights.to(torch.float32)
    return as_f32(step_weights), q


def block_sizes(pk, rows: int, kernel: str = "", sm: int = 90, one_row=None):
    """Tile sizes: BN candidate rows per tile (16 or 32; 1 for kernel "gbp" with fewer than 16
    rows when `one_row`, by default settings.GBP_ROWS), BD/BA/BH output chunks (<= BLOCK_OUT, GBP_BLOCK_OUT for kernel
    "gbp"), BK* reduction chunks (<= BLOCK_K, GBP_BLOCK_K_* by compute capability `sm`, e.g. 80
    or 90). Every chunk is a power of two >= 16 that divides its padded dimension, so the
    kernels loop over whole chunks."""
    BN = min(settings.BLOCK_ROWS, max(16, triton.next_power_of_2(int(rows))))
    one_row = settings.GBP_ROWS if one_row is None else one_row
    if kernel == "gbp" and one_row and rows < 16:
        BN, BO, BK = 1, settings.GBP_ROW_BLOCK_OUT, settings.GBP_ROW_BLOCK_K
    elif kernel == "gbp":
        BO = settings.GBP_BLOCK_OUT
        BK = settings.GBP_BLOCK_K_SM90 if sm >= 90 else settings.GBP_BLOCK_K_OLDER
    else:
        BO, BK = settings.BLOCK_OUT, settings.BLOCK_K
    return dict(BN=BN, BD=min(pk["DP"], BO), BA=min(pk["AP"], BO), BH=min(pk["HP"], BO),
                BKD=min(pk["DP"], BK), BKA=min(pk["AP"], BK), BKH=min(pk["HP"], BK))


def num_programs(tiles: int, scratch_bytes_per_program: int, device) -> int:
    """Programs of a persistent grid: every tile gets one if the scratch fits SCRATCH_BUDGET."""
    cap = max(1, settings.SCRATCH_BUDGET // max(1, scratch_bytes_per_program))
    if device.type == "cuda":
        cap = min(cap, 16 * multiprocessors(device))
    return max(1, min(tiles, cap))


def compute_capability(device) -> int:
    """major * 10 + minor of a CUDA device (90 for sm_90); 90 on CPU (the interpreter)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return 10 * major + minor
    return 90


def multiprocessors(device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return 1


def scratch_layout(pk, bs, T: int, keep_pre: bool):
    """Per-program scratch sizes (floats): states, pre-activations, activations, dh, dz."""
    BN, DP, HP, L = bs["BN"], pk["DP"], pk["HP"], pk["L"]
    return dict(zs=(T + 1) * BN * DP, pre=(T * L * BN * HP) if keep_pre else 0, h=L * BN * HP,
                dh=2 * BN * HP, dz=2 * BN * DP)


def forward_weights(pk):
    """The forward weights as keyword arguments of mlp.mlp_forward."""
    return {f"{k}_ptr": pk[k] for k in ("wz", "wa", "wh", "wo", "s", "bh", "bo")}


def backward_weights(pk):
    """The transposed weights as keyword arguments of mlp.mlp_backward."""
    return {f"{k}_ptr": pk[k] for k in ("wzT", "waT", "whT", "woT", "sT")}


def meta(pk, bs, kernel):
    """The constexpr meta-parameters of every kernel built on mlp.py, and the launch options of
    `kernel` (a key of settings.LAUNCH)."""
    return dict(DP=pk["DP"], AP=pk["AP"], HP=pk["HP"], L=pk["L"], ACT=pk["act"], SKIP=pk["skip"],
                PREC=settings.PRECISION, **settings.LAUNCH[kernel], **bs)
