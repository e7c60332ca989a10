"""Kernels with an encrypted transport, for everything opslab executes notebooks with.

ipykernel (7.x) warns on every start "Kernel is running over TCP without encryption" unless the
kernel manager hands it CurveZMQ keys. jupyter_client (8.10+) does that when its
``transport_encryption`` is ``"auto"`` and the kernelspec declares ``supported_encryption: curve``
(ipykernel's ``python3`` spec does, and so does the grader's). So the warning goes away because the
transport really is encrypted, not because it is hidden. Older jupyter_client or a libzmq without
Curve: the plain kernel manager, as before.

``opslab run`` passes :func:`kernel_manager_class` to papermill. The book build (jupyter-book, whose
executor takes no kernel manager) loads this module as a Sphinx extension (``_config.yml``:
``sphinx: extra_extensions: [opslab.kernels]``), which makes encryption the default for the kernels
of that build process. The grader needs neither: its kernels talk over IPC (Unix sockets in a
private folder), where ipykernel does not warn.
"""

from __future__ import annotations

import functools

__all__ = ["encrypt_kernels_by_default", "kernel_manager_class", "transport_encryption_supported"]

def transport_encryption_supported() -> bool:
    """Whether this jupyter_client can provision Curve keys and this libzmq can use them."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    return "transport_encryption" in AsyncKernelManager.class_trait_names() and bool(zmq.has("curve"))


@functools.cache
def kernel_manager_class():
    """The kernel manager class to give papermill/nbclient (``kernel_manager_class=``)."""
    from jupyter_client.manager import AsyncKernelManager

    if not transport_encryption_supported():
        return AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        """An AsyncKernelManager that gives kernels declaring Curve support encryption keys."""

        @default("transport_encryption")
        def _encrypt_when_the_kernel_can(self):
            return "auto"

    return EncryptedKernelManager


def encrypt_kernels_by_default() -> bool:
    """Make ``"auto"`` the default ``transport_encryption`` of every kernel manager this process
    creates from now on (for executors that take no kernel manager class); False if unsupported."""
    if not transport_encryption_supported():
        return False
    from jupyter_client.manager import KernelManager

    KernelManager.class_traits()["transport_encryption"].default_value = "auto"  # inherited by the async one
    return True


def setup(app) -> dict:
    """Sphinx extension entry point: the book build's kernels get an encrypted transport."""
    encrypt_kernels_by_default()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
