"""Shared pieces of the Triton backend, one job per module:

- settings:    environment settings, tile sizes and the launch table (warps, register caps)
- interpreter: the TRITON_INTERPRET=1 speed-up (CPU tests)
- device:      @triton.jit device functions: activations, the Philox normal, a chunked matmul
- mlp:         @triton.jit rollout forward and backward through time of one candidate tile
- packing:     host-side padding of model and objective, tile sizes, scratch, grids, outputs
- library:     registration of the Triton implementations of the ops (device guard, contiguity)

The kernels themselves live in wmkernels/ops/<family>/triton.py.
"""
