"""@triton.jit rollout of one tile of candidates through an MLPWorldModel, and its backward.

Every matrix product is a chunked ``tl.dot`` (device.mm) that reads its left operand from a
small per-program scratch buffer (it stays in L1/L2) and the weights from global memory (L2),
so no tile is larger than [BN, BK] x [BK, BH] whatever the widths. The weights are the
zero-padded blocks of packing.pack_model: padded hidden units have pre-activation 0 and
act(0) = 0 for every activation, and their outgoing weights are 0, so padding is exact.
"""
import triton
import triton.language as tl

from .device import activation, activation_grad, mm, normal_draw

UPDATE_ADAM, UPDATE_SGD = 1, 2     # mlp_backward's UPDATE: 0 stores the gradient


@triton.jit
def mlp_forward(
    z0_ptr, goal_ptr,                                # this problem's z0 [D], goal [D]
    a_ptr, stride_an, stride_at, n_valid,            # this tile's actions (row, t, a); rows < n_valid
    wz_ptr, wa_ptr, wh_ptr, wo_ptr, s_ptr, bh_ptr, bo_ptr,   # packed model (see pack_model)
    w_ptr, q_ptr, lam,                               # objective: w [T], q [DP] (padded), lambda
    zs_ptr, pre_ptr, h_ptr,                          # scratch: states [T+1, BN, DP], pre-activations
                                                     # [T, L, BN, HP] (KEEP_PRE), activations [L, BN, HP]
    states_ptr, stride_sn, stride_st,                # optional states output of this tile (row, t, d)
    T, D, A,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, KEEP_PRE: tl.constexpr, WRITE_STATES: tl.constexpr,
    PREC: tl.constexpr,
):
    """Roll a tile of BN candidates through T steps; return their costs [BN].

        pre_0 = z_t Wz + a_t Wa + b_0;  pre_l = act(pre_{l-1}) W_l + b_l
        z_{t+1} = z_t S + act(pre_{L-1}) W_o + b_o
        C = sum_t w_t sum_d q_d (z_{t+1,d} - g_d)^2 + lam sum_t ||a_t||^2

    States go to zs_ptr[t] (all T+1 kept for the backward); pre-activations to pre_ptr[t]
    when KEEP_PRE (for the backward); act(pre_l) of the current step to h_ptr[l], computed once
    per element and read by the next layer's chunks.
    """
    rn = tl.arange(0, BN)
    rd = tl.arange(0, BD)
    rh = tl.arange(0, BH)
    ra = tl.arange(0, BA)
    layer_stride = BN * HP
    # z_0, broadcast over the tile
    for d0 in range(0, DP, BD):
        dd = d0 + rd
        z = tl.load(z0_ptr + dd, mask=dd < D, other=0.0)
        zt = tl.zeros([BN, BD], dtype=tl.float32) + z[None, :]
        tl.store(zs_ptr + rn[:, None] * DP + dd[None, :], zt)
        if WRITE_STATES:
            tl.store(states_ptr + rn[:, None] * stride_sn + dd[None, :], zt,
                     mask=(rn[:, None] < n_valid) & (dd[None, :] < D))
    tl.debug_barrier()
    cost = tl.zeros([BN], dtype=tl.float32)
    for t in range(0, T):
        z_ptr = zs_ptr + t * (BN * DP)
        at_ptr = a_ptr + t * stride_at
        pt_ptr = pre_ptr + t * (L * layer_stride)
        # action penalty
        for a0 in range(0, AP, BA):
            aa = a0 + ra
            a = tl.load(at_ptr + rn[:, None] * stride_an + aa[None, :],
                        mask=(rn[:, None] < n_valid) & (aa[None, :] < A), other=0.0)
            cost += lam * tl.sum(a * a, axis=1)
        # first layer: [z, a] @ [Wz; Wa] + b_0
        for h0 in range(0, HP, BH):
            acc = tl.zeros([BN, BH], dtype=tl.float32)
            acc = mm(acc, x_ptr=z_ptr, stride_xn=DP, n_lim=BN, k_lim=DP, w_ptr=wz_ptr, stride_wk=HP, col0=h0, K=DP,
                BK=BKD, BN=BN, BC=BH, PREC=PREC)
            acc = mm(acc, x_ptr=at_ptr, stride_xn=stride_an, n_lim=n_valid, k_lim=A, w_ptr=wa_ptr, stride_wk=HP,
                col0=h0, K=AP, BK=BKA, BN=BN, BC=BH, PREC=PREC)
            acc += tl.load(bh_ptr + h0 + rh)[None, :]
            if KEEP_PRE:
                tl.store(pt_ptr + rn[:, None] * HP + (h0 + rh)[None, :], acc)
            tl.store(h_ptr + rn[:, None] * HP + (h0 + rh)[None, :], activation(acc, ACT))
        tl.debug_barrier()
        # hidden layers
        for l in tl.static_range(1, L):
            for h0 in range(0, HP, BH):
                acc = tl.zeros([BN, BH], dtype=tl.float32)
                acc = mm(acc, x_ptr=h_ptr + (l - 1) * layer_stride, stride_xn=HP, n_lim=BN, k_lim=HP,
                    w_ptr=wh_ptr + (l - 1) * (HP * HP), stride_wk=HP, col0=h0, K=HP, BK=BKH, BN=BN, BC=BH, PREC=PREC)
                acc += tl.load(bh_ptr + l * HP + h0 + rh)[None, :]
                if KEEP_PRE:
                    tl.store(pt_ptr + l * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
                tl.store(h_ptr + l * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], activation(acc, ACT))
            tl.debug_barrier()
        # output layer, skip and this step's cost term
        wt = tl.load(w_ptr + t)
        for d0 in range(0, DP, BD):
            dd = d0 + rd
            acc = tl.zeros([BN, BD], dtype=tl.float32)
            acc = mm(acc, x_ptr=h_ptr + (L - 1) * layer_stride, stride_xn=HP, n_lim=BN, k_lim=HP, w_ptr=wo_ptr,
                stride_wk=DP, col0=d0, K=HP, BK=BKH, BN=BN, BC=BD, PREC=PREC)
            if SKIP == 0:
                acc += tl.load(z_ptr + rn[:, None] * DP + dd[None, :])
            else:
                acc = mm(acc, x_ptr=z_ptr, stride_xn=DP, n_lim=BN, k_lim=DP, w_ptr=s_ptr, stride_wk=DP, col0=d0, K=DP,
                    BK=BKD, BN=BN, BC=BD, PREC=PREC)
            acc += tl.load(bo_ptr + dd)[None, :]
            tl.store(z_ptr + BN * DP + rn[:, None] * DP + dd[None, :], acc)
            g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
            q = tl.load(q_ptr + dd)
            err = acc - g[None, :]
            cost += wt * tl.sum(q[None, :] * err * err, axis=1)
            if WRITE_STATES:
                tl.store(states_ptr + rn[:, None] * stride_sn + (t + 1) * stride_st + dd[None, :], acc,
                         mask=(rn[:, None] < n_valid) & (dd[None, :] < D))
        tl.debug_barrier()
    return cost


@triton.jit
def mlp_backward(
    goal_ptr,
    a_ptr, stride_an, stride_at, n_valid,            # actions (read; updated in place if UPDATE > 0)
    g_ptr, m_ptr, v_ptr,                             # grad output (UPDATE 0) / Adam moments (UPDATE 1)
    wzT_ptr, waT_ptr, whT_ptr, woT_ptr, sT_ptr,      # transposed packed weights
    w_ptr, q_ptr, lam,
    zs_ptr, pre_ptr, dh_ptr, dz_ptr,                 # scratch: states, pre-acts (from mlp_forward),
                                                     # dh [2, BN, HP], dz [2, BN, DP]
    lo_ptr, hi_ptr, lr, beta1, beta2, eps, bc1, bc2, noise, key, step, p, n0,
    T, D, A,
    DP: tl.constexpr, AP: tl.constexpr, HP: tl.constexpr, L: tl.constexpr,
    BN: tl.constexpr, BD: tl.constexpr, BA: tl.constexpr, BH: tl.constexpr,
    BKD: tl.constexpr, BKA: tl.constexpr, BKH: tl.constexpr,
    ACT: tl.constexpr, SKIP: tl.constexpr, UPDATE: tl.constexpr, NOISE: tl.constexpr,
    PREC: tl.constexpr,
):
    """Backward through time of mlp_forward (which must have run with KEEP_PRE):

        dz_T      = 2 w_T q (z_T - g)
        dpre_{L-1} = (dz_{t+1} W_o^T) * act'(pre_{L-1});  dpre_{l-1} = (dpre_l W_l^T) * act'(pre_{l-1})
        da_t      = dpre_0 Wa^T + 2 lam a_t
        dz_t      = dz_{t+1} S^T + dpre_0 Wz^T + 2 w_t q (z_t - g)

    UPDATE 0 stores da_t to g_ptr. UPDATE 1 applies projected Adam to a_t right away (the
    forward of this iterate is complete, so a_t is free to change):
        m = b1 m + (1-b1) da;  v = b2 v + (1-b2) da^2
        a = clamp(a - lr (m / bc1) / (sqrt(v / bc2) + eps) + noise z, lo, hi)
    with bc1 = 1 - b1^k, bc2 = 1 - b2^k, z = normal(key, step, p, n0 + row, t*A + a).
    UPDATE 2 is projected SGD: a = clamp(a - lr da + noise z, lo, hi).
    """
    rn = tl.arange(0, BN)
    rd = tl.arange(0, BD)
    rh = tl.arange(0, BH)
    ra = tl.arange(0, BA)
    layer_stride = BN * HP
    # dz_T into slot T % 2
    wT = tl.load(w_ptr + T - 1)
    for d0 in range(0, DP, BD):
        dd = d0 + rd
        z = tl.load(zs_ptr + T * (BN * DP) + rn[:, None] * DP + dd[None, :])
        g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
        q = tl.load(q_ptr + dd)
        tl.store(dz_ptr + (T % 2) * (BN * DP) + rn[:, None] * DP + dd[None, :],
                 2.0 * wT * q[None, :] * (z - g[None, :]))
    tl.debug_barrier()
    for t in range(T - 1, -1, -1):
        dz_in = dz_ptr + ((t + 1) % 2) * (BN * DP)
        dz_out = dz_ptr + (t % 2) * (BN * DP)
        pt_ptr = pre_ptr + t * (L * layer_stride)
        # dpre_{L-1} = (dz W_o^T) * act'(pre_{L-1})  -> dh slot (L-1) % 2
        for h0 in range(0, HP, BH):
            acc = tl.zeros([BN, BH], dtype=tl.float32)
            acc = mm(acc, x_ptr=dz_in, stride_xn=DP, n_lim=BN, k_lim=DP, w_ptr=woT_ptr, stride_wk=HP, col0=h0, K=DP,
                BK=BKD, BN=BN, BC=BH, PREC=PREC)
            pre = tl.load(pt_ptr + (L - 1) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :])
            acc = acc * activation_grad(pre, ACT)
            tl.store(dh_ptr + ((L - 1) % 2) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
        tl.debug_barrier()
        for i in tl.static_range(1, L):
            l = L - i      # l = L-1 .. 1: dpre_{l-1} = (dpre_l W_l^T) * act'(pre_{l-1})
            for h0 in range(0, HP, BH):
                acc = tl.zeros([BN, BH], dtype=tl.float32)
                acc = mm(acc, x_ptr=dh_ptr + (l % 2) * layer_stride, stride_xn=HP, n_lim=BN, k_lim=HP,
                    w_ptr=whT_ptr + (l - 1) * (HP * HP), stride_wk=HP, col0=h0, K=HP, BK=BKH, BN=BN, BC=BH, PREC=PREC)
                pre = tl.load(pt_ptr + (l - 1) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :])
                acc = acc * activation_grad(pre, ACT)
                tl.store(dh_ptr + ((l - 1) % 2) * layer_stride + rn[:, None] * HP + (h0 + rh)[None, :], acc)
            tl.debug_barrier()
        # da_t = dpre_0 Wa^T + 2 lam a_t, then store or update
        at_ptr = a_ptr + t * stride_at
        for a0 in range(0, AP, BA):
            aa = a0 + ra
            acc = tl.zeros([BN, BA], dtype=tl.float32)
            acc = mm(acc, x_ptr=dh_ptr, stride_xn=HP, n_lim=BN, k_lim=HP, w_ptr=waT_ptr, stride_wk=AP, col0=a0, K=HP,
                BK=BKH, BN=BN, BC=BA, PREC=PREC)
            offs = rn[:, None] * stride_an + t * stride_at + aa[None, :]
            mask = (rn[:, None] < n_valid) & (aa[None, :] < A)
            a = tl.load(a_ptr + offs, mask=mask, other=0.0)
            grad = acc + 2.0 * lam * a
            if UPDATE == 0:
                tl.store(g_ptr + offs, grad, mask=mask)
            else:
                if UPDATE == 1:
                    m = tl.load(m_ptr + offs, mask=mask, other=0.0)
                    v = tl.load(v_ptr + offs, mask=mask, other=0.0)
                    m = beta1 * m + (1.0 - beta1) * grad
                    v = beta2 * v + (1.0 - beta2) * grad * grad
                    tl.store(m_ptr + offs, m, mask=mask)
                    tl.store(v_ptr + offs, v, mask=mask)
                    a = a - lr * (m / bc1) / (tl.sqrt(v / bc2) + eps)
                else:
                    a = a - lr * grad
                if NOISE:
                    elem = t * A + aa
                    cand = n0 + rn
                    z = normal_draw(key, step, p, cand[:, None] + tl.zeros([BN, BA], dtype=tl.int32),
                                    elem[None, :] + tl.zeros([BN, BA], dtype=tl.int32))
                    a = a + noise * z
                lo = tl.load(lo_ptr + aa, mask=aa < A, other=0.0)
                hi = tl.load(hi_ptr + aa, mask=aa < A, other=0.0)
                a = tl.minimum(tl.maximum(a, lo[None, :]), hi[None, :])
                tl.store(a_ptr + offs, a, mask=mask)
        # dz_t = dz_{t+1} S^T + dpre_0 Wz^T + 2 w_t q (z_t - g)   (w_t of state t, t >= 1)
        wt = tl.load(w_ptr + t - 1, mask=t >= 1, other=0.0)
        for d0 in range(0, DP, BD):
            dd = d0 + rd
            acc = tl.zeros([BN, BD], dtype=tl.float32)
            acc = mm(acc, x_ptr=dh_ptr, stride_xn=HP, n_lim=BN, k_lim=HP, w_ptr=wzT_ptr, stride_wk=DP, col0=d0, K=HP,
                BK=BKH, BN=BN, BC=BD, PREC=PREC)
            if SKIP == 0:
                acc += tl.load(dz_in + rn[:, None] * DP + dd[None, :])
            else:
                acc = mm(acc, x_ptr=dz_in, stride_xn=DP, n_lim=BN, k_lim=DP, w_ptr=sT_ptr, stride_wk=DP, col0=d0,
                    K=DP, BK=BKD, BN=BN, BC=BD, PREC=PREC)
            z = tl.load(zs_ptr + t * (BN * DP) + rn[:, None] * DP + dd[None, :])
            g = tl.load(goal_ptr + dd, mask=dd < D, other=0.0)
            q = tl.load(q_ptr + dd)
            acc += 2.0 * wt * q[None, :] * (z - g[None, :])
            tl.store(dz_out + rn[:, None] * DP + dd[None, :], acc)
        tl.debug_barrier()
