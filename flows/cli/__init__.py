"""The `yuliao` command line: main.py holds the app, `run` and `check`; each other module registers one command group."""


def main() -> None:
    """Console-script entry point (pyproject's `yuliao = flows.cli:main`); the app itself is flows.cli.main.app."""
    from flows.cli.main import main as run_app

    run_app()
