"""Serve a kagent-adk agent the way `kagent-adk static` does, but self-contained: sessions and tasks in memory
instead of the kagent controller's HTTP API (which a benchmark does not have). Run with the Python of the
`.venv-kagent-adk` virtualenv (`make bench-deps`):

    .venv-kagent-adk/bin/python bench/kagent_adk_serve.py CONFIG_DIR PORT

CONFIG_DIR holds config.json and agent-card.json, the two files kagent's controller renders for an agent."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import uvicorn
from a2a.types import AgentCard
from kagent.adk import AgentConfig, KAgentApp


def main() -> None:
    config_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    config = AgentConfig.model_validate(json.loads((config_dir / "config.json").read_text()))
    card = AgentCard.model_validate(json.loads((config_dir / "agent-card.json").read_text()))
    app = KAgentApp(
        lambda: config.to_agent("bench_agent"),
        card,
        "http://127.0.0.1:1",  # the controller URL: unused with local=True
        "bench__NS__bench_agent",
        stream=False,
        agent_config=config,
    ).build(local=True)
    logging.getLogger().setLevel(logging.ERROR)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
