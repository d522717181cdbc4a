"""The web UI (`distill ui`, extra `distill[ui]`): a Gradio page on the Python API, served locally and
fully offline. Only `distill ui` imports this package, so no other command pays for Gradio."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable

from .. import MAX_UPLOAD_BYTES, DistillError, library_root

GRADIO_MISSING = 'the web UI needs Gradio, which is not installed: pip install "distill[ui]"'


def serve(host: str = "127.0.0.1", port: int = 7860, open_browser: bool = True,
          say: Callable[[str], None] = print) -> None:
    """Serve the UI until SIGINT or SIGTERM; then cancel the running job (a training saves its
    checkpoint) and stop. Port 0 picks a free one."""
    folder = library_root() / "ui"  # what the page is handed: generated clips, comparisons, exports
    # Before Gradio is imported: no version check or telemetry calls, temp files kept with the library.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_TEMP_DIR", str(folder / "cache"))
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise DistillError(GRADIO_MISSING) from None
    from .app import CSS, build_app
    from .jobs import JobRunner
    from .script import SCRIPT

    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("distill").setLevel(logging.INFO)
    port = port or _free_port(host)
    runner = JobRunner()
    app = build_app(runner, folder)
    app.queue(default_concurrency_limit=2)
    served = [folder / "generated", folder / "previews", folder / "compare", folder / "exports",
              library_root() / "checkpoints"]
    try:
        _, url, _ = app.launch(server_name=host, server_port=port, inbrowser=open_browser, prevent_thread_lock=True,
                               quiet=True, css=CSS, js=SCRIPT, allowed_paths=[str(p) for p in served], footer_links=[],
                               ssr_mode=False, max_file_size=MAX_UPLOAD_BYTES, show_error=False)
    except OSError as exc:
        raise DistillError(f"cannot serve on {host}:{port} ({exc}); pick another with --port") from None
    say(f"distill UI: {url}  (Ctrl-C stops it)")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    if runner.job is not None and runner.job.running:
        say(f"stopping: cancelling {runner.job.label} (a training saves its checkpoint first)")
    runner.shutdown()
    app.close()


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
