import os
import subprocess
from pathlib import Path

import pytest
from vllm_servers import free_port, server_generator, start_vllm_server

from contrastgen import go_offline

go_offline()
REPO = Path(__file__).resolve().parent.parent
GENERATOR_DIR = REPO / "resources" / "models" / "SmolLM2-135M-Instruct"


@pytest.fixture(scope="session")
def generator_dir() -> Path:
    """The embedded generator, prepared by `make setup` (snakemake models)."""
    if not (GENERATOR_DIR / "config.json").is_file():
        pytest.fail(f"{GENERATOR_DIR} missing: run `make setup` first (it prepares the models)")
    return GENERATOR_DIR


@pytest.fixture(scope="session")
def embedder():
    from contrastgen.validation.validator import Embedder, embedded_validator_path

    return Embedder(embedded_validator_path(), batch_size=32, threads=2)


VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The vLLM environment's interpreter, made by `make setup-vllm` (a step of `make
    test`): the vLLM tests run a real engine and fail, never skip, without it."""
    if not VLLM_PYTHON.is_file():
        pytest.fail(f"{VLLM_PYTHON} missing: run `make setup-vllm` (make test does)")
    return VLLM_PYTHON


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory, generator_dir, vllm_python):
    """One real vLLM server for the session's openai-backend tests: (server, generator)."""
    generator = server_generator(generator_dir, vllm_python, free_port())
    server = start_vllm_server(generator, tmp_path_factory.mktemp("server") / "server.log")
    yield server, generator
    server.stop()


@pytest.fixture
def full_disk(tmp_path):
    """A directory on its own 64 KiB tmpfs (needs root and mount): a real full disk."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)])
    if made.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
