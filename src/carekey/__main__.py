from carekey.interfaces.cli.main import app

app(prog_name="carekey")
