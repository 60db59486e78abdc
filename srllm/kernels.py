"""The Jupyter kernels the book's notebooks run in: local sockets, the book's environment, and the
next notebook's kernel started while the current notebook runs.

A cold book executes a dozen notebooks one after another. Each one used to wait for its
kernel to start and then spend its first cells importing torch, transformers and pandas
(about 4 s a notebook on a 2-core machine), and papermill waited for each kernel to stop
before the next could start. :class:`ReadyKernel` does that work while the previous notebook
runs: it starts the kernel in a background thread and loads the modules the notebook imports
(:func:`prewarm_source`), silently (no output, no execution count). Papermill then runs the
notebook in that kernel, and the kernel is stopped in the background. The notebook's cells run unchanged, and the
book's per-notebook times still add up to the wall time of the notebooks' stage: the start of
a kernel is inside the time of the notebook it overlaps.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

from srllm.quiet import QUIET_ENV


def prewarm_source(notebook: Path) -> str:
    """Code that loads the modules ``notebook`` imports, to run in its kernel before the notebook.

    The notebook's own top-level ``import`` statements (IPython's magic and shell lines such
    as ``%matplotlib inline`` left out), inside a function that is then deleted: the modules
    are loaded, and no name is defined that the notebook could see.
    """
    import ast

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    lines: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith("%%"):  # a cell magic: not Python
            continue
        # line magics and shell lines (``%matplotlib inline``, ``!pip ...``) are not Python either
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not (isinstance(node, ast.ImportFrom) and node.level):
                line = ast.unparse(node)
                if line not in lines:
                    lines.append(line)
    if not lines:
        return ""
    body = "".join(f"    {line}\n" for line in lines)
    return f"def _srllm_prewarm():\n{body}\n_srllm_prewarm()\ndel _srllm_prewarm\n"


#: The book's figure style (legible fonts at page width), read by matplotlib at import.
MATPLOTLIBRC = Path(__file__).with_name("style") / "matplotlibrc"


def kernel_env() -> dict[str, str]:
    """The environment of a book kernel: this process's, quietened (:data:`srllm.quiet.QUIET_ENV`:
    no bars, warnings or library log lines) and with the book's figure style."""
    return {**os.environ, **QUIET_ENV, "MATPLOTLIBRC": str(MATPLOTLIBRC)}


def kernel_manager_class() -> Any:
    """The jupyter_client kernel manager the book's notebooks run under: local IPC sockets where the OS
    has them, and a record of the clients it made.

    ipykernel 7 prints "Kernel is running over TCP without encryption" on the terminal
    for every kernel started over the default loopback TCP ports, a dozen lines of
    noise per ``make book``. The book's kernels are always local, so on POSIX systems
    they talk over Unix-domain sockets (jupyter_client's ``ipc`` transport). The socket
    files are named by an absolute path in Jupyter's runtime folder, so the kernel and
    its clients find them whatever their working folders, and are removed at shutdown.
    Windows has no ``ipc`` transport and keeps TCP.

    nbclient leaves the channels of its client open when it was handed a started kernel
    (it closes them only for kernels it started itself); :meth:`ReadyKernel.stop` closes
    the recorded clients' channels before the kernel stops.
    """
    from jupyter_client.manager import KernelManager

    class BookKernelManager(KernelManager):
        def __init__(self, **kw: Any) -> None:
            if os.name == "posix":
                kw.setdefault("transport", "ipc")
            if kw.get("transport") == "ipc" and "ip" not in kw:
                from jupyter_core.paths import jupyter_runtime_dir

                folder = Path(jupyter_runtime_dir())
                folder.mkdir(parents=True, exist_ok=True)
                kw["ip"] = str(folder / f"srllm-{uuid.uuid4().hex[:12]}-ipc")
            super().__init__(**kw)
            self.book_clients: list[Any] = []

        def client(self, **kw: Any) -> Any:
            kc = super().client(**kw)
            self.book_clients.append(kc)
            return kc

    return BookKernelManager


class ReadyKernel:
    """A python3 kernel started in a background thread, ``prewarm`` run in it (:func:`prewarm_source`).

    ``take()`` waits for it and returns its kernel manager for papermill (``km=``), or None
    when it could not start (papermill then starts a kernel of its own, as before);
    ``stop()`` shuts a taken kernel down in the background; ``close()`` stops one not taken
    (an interrupted build leaves no kernel behind).
    """

    def __init__(self, cwd: Path, prewarm: str = "", env: dict[str, str] | None = None) -> None:
        self.km: Any = None
        self.error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._start, args=(Path(cwd), env or kernel_env(), prewarm),
                                        name="srllm-kernel-start", daemon=True)
        self._thread.start()

    def _start(self, cwd: Path, env: dict[str, str], prewarm: str) -> None:
        try:
            self._start_and_prewarm(cwd, env, prewarm)
        except BaseException as exc:  # reported by take(); the notebook then gets a fresh kernel
            self.error = exc
        if self._closed:  # closed while starting: nobody will take it
            self.discard()

    def _start_and_prewarm(self, cwd: Path, env: dict[str, str], prewarm: str) -> None:
        km = kernel_manager_class()(kernel_name="python3")
        km.start_kernel(cwd=str(cwd), env=env)
        self.km = km
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
            if prewarm:
                msg_id = kc.execute(prewarm, silent=True, store_history=False)
                while True:  # the reply to our request (other shell messages are not ours)
                    reply = kc.get_shell_msg(timeout=600)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                if reply["content"].get("status") != "ok":
                    raise RuntimeError(f"pre-loading imports failed: {reply['content'].get('evalue')}")
        finally:
            kc.stop_channels()

    def take(self) -> Any:
        """The started kernel's manager, or None (after stopping what did start) if starting failed.

        Waits for the start (bounded by the timeouts inside: 120 s to answer, 600 s to import)."""
        self._thread.join()
        if self.error is not None or self.km is None or not self.km.is_alive():
            self.discard()
            return None
        return self.km

    def close(self) -> None:
        """Stop the kernel, now if it has started, else as soon as it has (without waiting here)."""
        self._closed = True
        if not self._thread.is_alive():
            self.discard()

    def discard(self) -> None:
        """Stop the kernel if one started (now, not waiting for a graceful end)."""
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # already gone
                pass
            self.km = None

    @staticmethod
    def stop(km: Any) -> threading.Thread:
        """Shut ``km``'s kernel down gracefully in a background thread (the next notebook need not wait)."""
        def shutdown() -> None:
            try:
                for kc in getattr(km, "book_clients", []):
                    kc.stop_channels()
                km.shutdown_kernel(now=False)
            except Exception:  # already gone
                pass

        t = threading.Thread(target=shutdown, name="srllm-kernel-stop", daemon=True)
        t.start()
        return t
