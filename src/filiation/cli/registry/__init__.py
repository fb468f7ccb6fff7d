"""``filiation registry …``: the registry from the command line, one service call per command.

The CLI opens the store directly, so whoever may write the store file (or holds the
database's credentials) may act on the registry: it does not ask for a password. It acts as
the registry user named by ``--user`` (or ``$FILIATION_USER``, default: the OS user name),
whose role is checked like the API's and whose name goes into the history. The first user
of a registry is created by ``filiation registry user add NAME --role admin`` with no user
yet; after that only admins add users.
"""

from __future__ import annotations

import typer

from filiation.cli.registry import models, systems, users
from filiation.cli.registry.base import registry_options

app = typer.Typer(
    help="The registry of your AI systems and models, linked to the genealogy.",
    no_args_is_help=True,
)
app.callback()(registry_options)
for group in (models, systems, users):
    app.add_typer(group.app)
