import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

@pytest.fixture(scope="session")
def env_cache():
    from training.envs import make

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = make(name)
        return cache[name]

    yield get
    for env in cache.values():
        env.close()
