"""Kernels that opslab starts talk over an encrypted transport, so ipykernel has nothing to warn about."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from opslab.kernels import transport_encryption_supported

REPORT = (
    "from ipykernel.kernelapp import IPKernelApp\n"
    "print('encrypted:', IPKernelApp.instance().curve_secretkey is not None)"
)


def test_this_environment_can_encrypt_kernel_transport():
    assert transport_encryption_supported(), "the pinned jupyter_client and pyzmq should support CurveZMQ"


def test_encrypt_kernels_by_default_changes_the_default_of_new_kernel_managers():
    code = ("import opslab.kernels as k; assert k.encrypt_kernels_by_default()\n"
            "from jupyter_client.manager import AsyncKernelManager, KernelManager\n"
            "print(AsyncKernelManager().transport_encryption, KernelManager().transport_encryption)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["auto", "auto"]


@pytest.mark.notebooks
def test_opslab_run_kernels_are_encrypted_and_do_not_warn(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(REPORT)]
    nbformat.write(nb, tmp_path / "report.ipynb")
    done = subprocess.run([sys.executable, "-m", "opslab", "run", "report.ipynb", "--out", "out"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "without encryption" not in done.stdout + done.stderr
    printed = nbformat.read(tmp_path / "out" / "report.ipynb", as_version=4).cells[0].outputs[0]["text"]
    assert printed.strip() == "encrypted: True"
