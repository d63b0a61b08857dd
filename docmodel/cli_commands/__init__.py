"""One module per ``docmodel`` verb: ``add_arguments(parser)`` and ``run(args) -> int``."""
