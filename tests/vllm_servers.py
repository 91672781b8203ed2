"""Real vLLM OpenAI-compatible servers for the openai-backend tests (conftest puts this
directory on sys.path, so tests import it as `vllm_servers`)."""

import re
import socket
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from contrastgen.backends.vllm_server import start_server
from contrastgen.settings import GeneratorSettings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_generator(generator_dir: Path, python: Path, port: int, **server) -> dict:
    """config.yaml's generator section for the openai backend against 127.0.0.1:`port`."""
    generator = yaml.safe_load((REPO / "config.yaml").read_text())["generator"]
    generator.update(backend="openai", model=str(generator_dir))
    generator["vllm"] = {**generator["vllm"], "python": str(python), "cpu_kv_cache_gib": 1}
    generator["server"] = {
        **generator["server"],
        "base_url": f"http://127.0.0.1:{port}/v1",
        **server,
    }
    return generator


def start_vllm_server(generator: dict, log_path: Path):
    """vLLM's own OpenAI-compatible server (`contrastgen serve`'s), the embedded model,
    on the generator's port; waits until it answers (~30 s on 2 cores)."""
    port = urlsplit(generator["server"]["base_url"]).port
    server = start_server(
        GeneratorSettings.from_config(generator),
        port=port,
        max_model_len=2048,
        threads=2,
        log_path=log_path,
    )
    try:
        server.wait_ready(300)
    except Exception:
        pytest.fail(f"vLLM server did not start: {log_path.read_text()[-3000:]}")
    return server


def served_requests(base_url: str) -> int:
    """Requests the vLLM server at `base_url` has answered, from its Prometheus metrics."""
    root = base_url.removesuffix("/v1")
    text = urllib.request.urlopen(f"{root}/metrics", timeout=10).read().decode()
    answered = (
        r'^vllm:request_success_total\{.*finished_reason="(stop|length|repetition)".*\} (\S+)$'
    )
    return round(sum(float(v) for _, v in re.findall(answered, text, re.M)))
