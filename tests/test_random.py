import math

import mpmath
import numpy
import pytest
import torch

from wmkernels import _random


def test_philox_known_answers():
    """Known-answer vectors of Philox4x32-10 (Random123 kat_vectors)."""
    zero = torch.zeros(1, dtype=torch.int64)
    ones = torch.full((1,), 0xFFFFFFFF, dtype=torch.int64)
    pi = [torch.tensor([v], dtype=torch.int64) for v in (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344)]
    cases = [((zero,) * 4, (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((ones,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             (tuple(pi), (0xA4093822, 0x299F31D0), (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for counter, key, expected in cases:
        out = _random.philox4x32(*counter, *key)
        assert tuple(int(x) for x in out) == expected


def test_normals_have_unit_moments_and_depend_on_every_key_part():
    draws = _random.normal_block(7, _random.STREAM_SAMPLE, 3, 4, 50, 10, 25)
    assert draws.dtype == torch.float32 and draws.shape == (4, 50, 10, 25)
    flat = draws.double().flatten()
    n = flat.numel()
    assert abs(flat.mean()) < 4 / math.sqrt(n) and abs(flat.std() - 1) < 4 / math.sqrt(n)
    assert torch.equal(draws, _random.normal_block(7, _random.STREAM_SAMPLE, 3, 4, 50, 10, 25))
    for other in [(8, _random.STREAM_SAMPLE, 3), (7, _random.STREAM_NOISE, 3), (7, _random.STREAM_SAMPLE, 4)]:
        assert not torch.equal(draws, _random.normal_block(*other, 4, 50, 10, 25))


def test_block_is_keyed_by_problem_candidate_and_element():
    full = _random.normal_block(1, 0, 0, 3, 5, 4, 2)
    shifted = _random.normal_block(1, 0, 0, 3, 2, 4, 2, candidate_offset=3)
    assert torch.equal(full[:, 3:], shifted)
    one = _random.normal(1, 0, 0, torch.tensor(2), torch.tensor(4), torch.tensor(5))
    assert one == full[2, 4, 2, 1]


def _exact_cos_2pi(u):
    """cos(2 pi u) to 120 bits (mpmath) for float64 u, as float64 values (ties impossible)."""
    mpmath.mp.prec = 120
    return torch.tensor([float(mpmath.cos(2 * mpmath.pi * mpmath.mpf(float(x)))) for x in u], dtype=torch.float64)


def _float32_uniforms(count, seed):
    """`count` float32 uniforms as the generator makes them, plus the quadrant edges and the ends."""
    gen = torch.Generator().manual_seed(seed)
    drawn = torch.randint(0, 2**31, (count,), generator=gen).to(torch.float32) * 4.6566127342e-10
    edges = torch.arange(8, dtype=torch.float32) / 8
    around = [edges, torch.nextafter(edges, torch.tensor(1.0)), torch.nextafter(edges[1:], torch.tensor(0.0)),
              torch.tensor([1 - 2**-24, 2**-31])]
    return torch.cat([drawn] + around).double()


def test_cos_2pi_is_within_two_ulps_of_the_exact_cosine():
    """The float64 polynomial against cos(2 pi u) to 120 bits on float32 inputs: within 2.5 ulp
    (relative) where cos is not 0, and exactly +-0 at u = 1/4 and 3/4."""
    u = _float32_uniforms(4000, seed=11)
    got = _random.cos_2pi(u)
    exact = _exact_cos_2pi(u)
    zero = (u == 0.25) | (u == 0.75)
    assert torch.all(got[zero] == 0.0)
    ulp = torch.from_numpy(numpy.spacing(exact[~zero].abs().numpy()))
    assert float(((got[~zero] - exact[~zero]).abs() / ulp).max()) < 2.5


def test_normals_are_the_exact_transform_rounded_once_to_float32():
    """z = float32(sqrt(-2 log u1) cos(2 pi u2)) with the float64 error (a few float64 ulps) far
    below float32's: every reference draw is within half a float32 ulp (plus 1e-6 of one) of
    the exact transform of its float32 uniforms, computed to 120 bits."""
    mpmath.mp.prec = 120
    gen = torch.Generator().manual_seed(12)
    x0, x1 = (torch.randint(0, 2**32, (3000,), generator=gen) for _ in range(2))
    x0[:2] = torch.tensor([0, 2**32 - 1])       # u1 = 0 -> the 1e-7 floor; -1 -> 0 as well
    z = _random.box_muller(x0, x1).double()
    u1 = torch.clamp(_random._uint32_to_unit(x0), min=1.0e-7).double().tolist()
    u2 = _random._uint32_to_unit(x1).double().tolist()
    exact = torch.tensor([float(mpmath.sqrt(-2 * mpmath.log(a)) * mpmath.cos(2 * mpmath.pi * b))
                          for a, b in zip(u1, u2)], dtype=torch.float64)
    ulp32 = torch.from_numpy(numpy.spacing(exact.float().abs().numpy())).double()
    assert float(((z - exact).abs() / ulp32).max()) <= 0.5 + 1e-6
    assert float(z.abs().max()) <= math.sqrt(-2 * math.log(1e-7))


def _philox_words(counter, key):
    """Philox4x32-10 on Python integers, as Salmon et al. define it: per round, the products of
    the multipliers 0xD2511F53 (word 0) and 0xCD9E8D57 (word 2), then the Weyl key bumps."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0, p2 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p2 >> 32) ^ c1 ^ k0, p2 & 0xFFFFFFFF, (p0 >> 32) ^ c3 ^ k1, p0 & 0xFFFFFFFF
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return c0, c1, c2, c3


def _uniform(word):
    """docs/random.md's U: the word as an int32 x, |x| (-x - 1 for negative x) as float32, times
    float32(4.6566127342e-10) (the float32 just below 2^-31), the product rounded to float32."""
    x = word - 2**32 if word >= 2**31 else word
    return float(numpy.float32(-x - 1 if x < 0 else x) * numpy.float32(4.6566127342e-10))


def _normal_by_definition(seed, stream, step, p, n, i):
    """One draw from docs/random.md: counter (i, n, p, step), key (seed, stream), the first two words
    to float32 uniforms (u1 floored at float32(1e-7)), sqrt(-2 ln u1) cos(2 pi u2) to 120 bits,
    rounded once to float32."""
    x0, x1, _, _ = _philox_words((i, n, p, step), (seed, stream))
    u1 = max(_uniform(x0), float(numpy.float32(1e-7)))
    u2 = _uniform(x1)
    mpmath.mp.prec = 120
    return float(numpy.float32(float(mpmath.sqrt(-2 * mpmath.log(u1)) * mpmath.cos(2 * mpmath.pi * u2))))


def test_normal_draws_equal_their_definition_value_by_value():
    """Draws of normal_block and normal, each equal to the one computed from the definition: Philox
    on integers, the uniform map, Box-Muller's cosine branch to 120 bits, one rounding."""
    seed, stream, step, P, N, T, A = 0xFFFFFFFE, _random.STREAM_SAMPLE, 6, 3, 5, 2, 3
    block = _random.normal_block(seed, stream, step, P, N, T, A, candidate_offset=4)
    gen = torch.Generator().manual_seed(13)
    for p, n, t, a in zip(*(torch.randint(0, m, (40,), generator=gen).tolist() for m in (P, N, T, A))):
        assert float(block[p, n, t, a]) == _normal_by_definition(seed, stream, step, p, n + 4, t * A + a), (p, n, t, a)
    keys = [(0, 0, 0, 0, 0, 0), (1, _random.STREAM_INIT, 0, 2, 0, 7), (123456789, _random.STREAM_NOISE, 99, 1, 3, 40),
            (2**32 - 1, _random.STREAM_SAMPLE, 2**31, 2**20, 2**16 + 3, 2**31 + 5)]
    for seed, stream, step, p, n, i in keys:
        drawn = _random.normal(seed, stream, step, torch.tensor(p), torch.tensor(n), torch.tensor(i))
        assert float(drawn) == _normal_by_definition(seed, stream, step, p, n, i), (seed, stream, step, p, n, i)


def test_uniform_map_at_the_word_edges_and_the_documented_streams():
    """U (docs/random.md) at the words 0, 1, 2^31 - 1, 2^31, 2^32 - 1 against the definition; the
    streams are 0 (init), 1 (noise), 2 (samples); a seed outside [0, 2^32) is refused."""
    words = [0, 1, 2**31 - 1, 2**31, 2**32 - 1]
    got = _random._uint32_to_unit(torch.tensor(words, dtype=torch.int64)).tolist()
    assert got == [_uniform(w) for w in words]
    assert got[0] == got[4] == 0.0 and 0.0 < got[1] < 1e-9 and got[2] == got[3] == 1 - 2**-24
    assert (_random.STREAM_INIT, _random.STREAM_NOISE, _random.STREAM_SAMPLE) == (0, 1, 2)
    for seed in (-1, 2**32):
        with pytest.raises(ValueError, match=r"^seed must be in \[0, 2\*\*32\), got "):
            _random.normal(seed, 0, 0, torch.tensor(0), torch.tensor(0), torch.tensor(0))
