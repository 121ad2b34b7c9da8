"""Environment names the training tests run over."""
BUILTIN = ("PointMaze", "PushT", "Wall", "Pusher")
ALL_ENVS = BUILTIN + ("gym:InvertedPendulum-v5",)
