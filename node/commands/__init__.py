"""Subcommands of ``asasap``: each module adds its own to the parser (:func:`node.cli.build_parser`)."""
