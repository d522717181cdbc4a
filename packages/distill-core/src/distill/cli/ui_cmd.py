"""`distill ui`: the web UI (the extra `distill[ui]`); Gradio is imported only here."""

from __future__ import annotations

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 0.0.0.0 serves every network interface: anyone who reaches it can use "
                   "distill on this machine.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True, help="0 picks a free port.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser window.")
def ui_command(host: str, port: int, no_browser: bool) -> None:
    """Start the web UI: generate, train, compare vocoders and manage the library in a browser."""
    from ..ui import serve

    serve(host, port, open_browser=not no_browser, say=click.echo)
