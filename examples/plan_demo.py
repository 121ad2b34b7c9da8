"""Plan with every planner on two small world models and print success rate and planning time.

Tasks (64 problems each, fixed seed):
  * reach: a random tanh MLP world model (D=8, A=2, 2x64) is both the model and the truth;
    each goal is where 5 random actions lead from the start, so it is reachable in 5 steps.
    Open-loop plan of horizon 5; success if ||z_5 - g|| < 0.05 ||z_0 - g||.
  * park: a 2-D point mass (x, y, vx, vy; dt 0.2; force in [-1, 1]^2) as an exact linear
    MLPWorldModel; MPC (replan after every action) for 40 steps; success if the position is
    within 0.05 and the speed below 0.1 of the goal at rest.
Run: python examples/plan_demo.py [--backend auto|torch|triton|cpp|cuda] [--problems 64]
"""
import argparse
import statistics

import torch

import wmkernels as wmk


def reach_task(problems: int, gen: torch.Generator):
    D, A, H, T = 8, 2, 64, 5
    sizes = [D + A, H, H, D]
    weights = [torch.randn(i, o, generator=gen) / i ** 0.5 for i, o in zip(sizes[:-1], sizes[1:])]
    weights[-1] *= 0.3
    biases = [0.1 * torch.randn(o, generator=gen) for o in sizes[1:]]
    model = wmk.MLPWorldModel(weights, biases, "tanh")
    z0 = torch.randn(problems, D, generator=gen)
    walk = 0.8 * torch.randn(problems, 1, T, A, generator=gen)
    goal = wmk.ops.rollout(model, z0, walk.clamp(-1, 1), z0, wmk.Objective(), return_states=True,
                           backend="torch")[1][:, 0, -1]
    return model, z0, goal


def point_mass(dt=0.2):
    S = torch.eye(4)
    S[2, 0] = S[3, 1] = dt            # x += dt vx, y += dt vy   (z' = z S + a B)
    B = torch.zeros(2, 4)
    B[0, 2] = B[1, 3] = dt            # v += dt a
    return S, B


def run_reach(planner, z0, goal):
    result = planner.plan(z0, goal)
    _, states = wmk.ops.rollout(planner.model, z0, result.actions[:, None], goal, planner.objective,
                                return_states=True, backend="torch")
    error = (states[:, 0, -1] - goal).norm(dim=-1) / (z0 - goal).norm(dim=-1)
    return (error < 0.05).float().mean().item(), result.info["time"], result.info["backend"]


def run_park(planner, starts, goals, S, B, steps=40):
    mpc = wmk.MPC(planner, execute=1)
    z, times = starts.clone(), []
    for _ in range(steps):
        action = mpc.act(z, goals)[:, 0]
        times.append(mpc.last_result.info["time"])
        z = z @ S + action @ B
    ok = ((z[:, :2] - goals[:, :2]).norm(dim=-1) < 0.05) & (z[:, 2:].norm(dim=-1) < 0.1)
    return ok.float().mean().item(), statistics.median(times), mpc.last_result.info["backend"]


def planners(model, horizon, objective, backend, mpc=False):
    return {
        "GBP (Adam)": wmk.GradientPlanner(model, horizon=horizon, objective=objective,
                                          iters=40 if mpc else 300, lr=0.2 if mpc else 0.1, backend=backend),
        "CEM": wmk.CEMPlanner(model, horizon=horizon, objective=objective, samples=300, elites=30,
                              iters=10 if mpc else 30, backend=backend),
        "MPPI": wmk.MPPIPlanner(model, horizon=horizon, objective=objective, samples=300, iters=10 if mpc else 30,
                                temperature=0.05, init_std=0.5, backend=backend),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(args.seed)

    rows = []
    model, z0, goal = reach_task(args.problems, gen)
    reach_obj = wmk.Objective("last", lo=-1.0, hi=1.0)
    for name, planner in planners(model, 5, reach_obj, args.backend).items():
        rows.append(("reach (open loop)", name, *run_reach(planner, z0, goal)))

    S, B = point_mass()
    park_model = wmk.linear_world_model(S, B)
    starts = torch.cat([2 * torch.rand(args.problems, 2, generator=gen) - 1, torch.zeros(args.problems, 2)], 1)
    goals = torch.cat([2 * torch.rand(args.problems, 2, generator=gen) - 1, torch.zeros(args.problems, 2)], 1)
    park_obj = wmk.Objective("all", base=1.0, q=[1.0, 1.0, 0.3, 0.3], action_penalty=1e-3, lo=-1.0, hi=1.0)
    for name, planner in planners(park_model, 6, park_obj, args.backend, mpc=True).items():
        rows.append(("park (MPC)", name, *run_park(planner, starts, goals, S, B)))

    print(f"\n{args.problems} problems per task, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads\n")
    print("| task | planner | backend | success | time per plan (ms) |")
    print("|---|---|---|---|---|")
    for task, name, success, seconds, backend in rows:
        print(f"| {task} | {name} | {backend} | {100 * success:.0f}% | {1e3 * seconds:.1f} |")


if __name__ == "__main__":
    main()
