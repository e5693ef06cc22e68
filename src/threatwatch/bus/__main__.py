"""`python -m threatwatch.bus worker|publish|migrate|...`: the bus commands alone (same as
`threatwatch worker` etc.), for hosts that run only workers."""

import typer

from .cli import register

app = typer.Typer(add_completion=False, no_args_is_help=True, help="threatwatch scale-out: bus and store commands.")
register(app)

if __name__ == "__main__":
    app()
