"""One module per CLI subcommand (see ``mtop.cli``): ``add_arguments(parser)`` and ``run(args, cfg)``."""
