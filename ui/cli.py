"""The `kb` console script: the commands of app.cli plus `kb serve`, which needs the web page."""

from app.cli import main as app_main


def main() -> None:
    from ui import serve

    app_main(extra=(serve.register,))
