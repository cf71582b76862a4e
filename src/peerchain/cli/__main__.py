"""`python -m peerchain.cli`: the same as the `peerchain` command."""

from peerchain.cli.main import main

main()
