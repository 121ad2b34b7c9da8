import math

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
