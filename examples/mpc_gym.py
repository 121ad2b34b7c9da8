"""MPC with a trained world model in the real gymnasium env: one episode, the distance to the goal
after every planner step, and a GIF (left: the env, right: the goal).

    python examples/mpc_gym.py runs/gym-Reacher-v5-offline/model.wmk --out reacher.gif

The model (``python -m training.train --env gym:<id>``) carries its metadata
(``training.model_info.ModelInfo``), which says how it maps onto the env:
  * its state is (qpos, qvel) of ``env.unwrapped.data``, not the observation ``env.step`` returns
    (the last ``num_hist`` such frames stacked, oldest first);
  * one planner action is ``frameskip`` env actions stacked in time order, executed as that many
    ``env.step`` calls;
  * the cost is the goal error over the success dims in units of the training data's spread
    (``q = 1 / state_std^2``, ``ModelInfo.objective``), so Adam's lr 0.2 suits any env.
The goal is the state ``--goal-steps`` planner actions of uniform random env actions after the
start, so it is reachable; success: the error over the success dims (hinge angles wrapped) below
the tolerance.
"""
import argparse
import sys
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the training package lives in the repository

from training.model_info import ModelInfo  # noqa: E402  (first: it sets up headless MuJoCo rendering)

import gymnasium as gym  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import wmkernels as wmk  # noqa: E402


def state_of(env) -> np.ndarray:
    data = env.unwrapped.data
    return np.concatenate([data.qpos, data.qvel])


def random_goal(env, seed: int, env_steps: int) -> np.ndarray:
    """The state after ``env_steps`` uniform random actions from ``reset(seed)``."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(env_steps):
        env.step(rng.uniform(env.action_space.low, env.action_space.high))
    return state_of(env)


def render_state(env, state) -> np.ndarray:
    """A frame of ``state`` (the env is left in it)."""
    nq = env.unwrapped.model.nq
    env.unwrapped.set_state(state[:nq], state[nq:])
    return env.render()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a model.wmk trained on a gym:<id> env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goal-steps", type=int, default=5, help="planner actions from start to goal")
    parser.add_argument("--steps", type=int, help="MPC steps (default: twice --goal-steps)")
    parser.add_argument("--out", default="mpc.gif")
    args = parser.parse_args()

    model = wmk.MLPWorldModel.load(args.model)
    info = ModelInfo.of(model)
    if not info.env.startswith("gym:") or info.success is None:
        raise SystemExit(f"error: {args.model} was trained on {info.env}; this example runs gym:<id> envs")
    env = gym.make(info.env[len("gym:"):], render_mode="rgb_array", width=240, height=240)
    k, A = info.frameskip, len(info.action_low)

    goal = random_goal(env, args.seed, args.goal_steps * k)
    goal_frame = render_state(env, goal)
    env.reset(seed=args.seed)                       # the same start again
    planner = wmk.GradientPlanner(model, horizon=5, objective=info.objective(mode="all", base=0.5), iters=100,
                                  lr=0.2, optimizer="adam", noise=0.003, seed=args.seed)
    mpc = wmk.MPC(planner, execute=1)
    history = deque([state_of(env)] * info.num_hist, maxlen=info.num_hist)
    frames = [np.concatenate([env.render(), goal_frame], axis=1)]
    print(f"{info.env}, success: {info.success.describe(info.state_names)}")
    print(f"step 0: distance to the goal {info.success.distance(state_of(env), goal):.3f}")
    for step in range(1, (args.steps or 2 * args.goal_steps) + 1):
        z = torch.tensor(np.concatenate(history), dtype=model.dtype)
        target = torch.tensor(info.planner_goal(goal, history[-1]), dtype=model.dtype)
        action = mpc.act(z, target)[0].double().numpy()          # one planner action [k A]
        for env_action in action.reshape(k, A):
            env.step(env_action)
            frames.append(np.concatenate([env.render(), goal_frame], axis=1))
        history.append(state_of(env))
        distance = info.success.distance(history[-1], goal)
        print(f"step {step}: distance to the goal {distance:.3f}"
              f"{'  (within the tolerance)' if distance < info.success.tol else ''}")
    iio.imwrite(args.out, np.stack(frames), extension=".gif", duration=50, loop=0)
    print(f"saved {args.out}: {len(frames)} frames")
    env.close()


if __name__ == "__main__":
    main()
