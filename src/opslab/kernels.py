"""Kernels with an encrypted transport, for everything opslab executes notebooks with.

ipykernel (7.x) warns on every start "Kernel is running over TCP without encryption" unless the
kernel manager hands it CurveZMQ keys. jupyter_client (8.10+) does that when its
``transport_encryption`` is ``"auto"`` and the kernelspec declares ``supported_encryption: curve``
(ipykernel's ``python3`` spec does, and so does the grader's). So the warning goes away because the
transport really is encrypted, not because it is hidden. Older jupyter_client or a libzmq without
Curve: the plain kernel manager, as before.
"""

from __future__ import annotations

import functools

__all__ = ["ENCRYPTION_METADATA", "kernel_manager_class", "transport_encryption_supported"]

# What a kernelspec's "metadata" says so that jupyter_client provisions Curve keys for it.
ENCRYPTION_METADATA = {"supported_encryption": ["curve"]}


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
