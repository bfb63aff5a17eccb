"""Extra ``amverify`` subcommands: each module defines ``register(subparsers)``."""
