"""``python -m carekey.interfaces.cli``: the same as the ``carekey`` command."""

from carekey.interfaces.cli.main import app

app(prog_name="carekey")
