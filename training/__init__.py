"""Training layer for wmkernels: environments, datasets, world-model training and evaluation.

    envs         simulators (PointMaze, Wall, PushT, Pusher, gym:<id>)
    policies     data collection policies
    data         trajectory files, training windows and their normalisation
    models       trainable world models and their export to ``wmkernels.MLPWorldModel``
    model_info   the metadata a model file carries, and the planning objective built from it
    synthesis    AWM perturbations, OWM corrections and their replay cache
    config       ``TrainConfig``, its checks and config files
    trainer      ``Trainer``: one training run
    train        ``python -m training.train``
    distributed  torchrun's process group as the trainer uses it
    devices      torch devices by name
    progress     progress bars on a terminal, periodic lines otherwise
    evaluate     planning with trained models in the environments

Run from the repository root; this package is not part of the wheel.
"""
