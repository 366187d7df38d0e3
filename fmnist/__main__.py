"""`python -m fmnist` is the `fmnist` command."""

from fmnist.cli import app

app(prog_name="fmnist")
