"""Names and small types every layer shares: labels, image names, a command's result.

Standard library only, on purpose: the pure layers (model, plan, impairment specs, report,
compose) import these without pulling in an engine SDK (docker) or testinfra. A unit test imports
the pure modules in a fresh interpreter and fails if either SDK got loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

# ----- labels on every object a run creates ------------------------------------------------
#: Driver option of the lab's internal bridge networks: the bridge holds no IPv4 address on the
#: host, so a container cannot reach the host's own services through the gateway address (which
#: an internal network alone still allows). Used by the Docker engine and the Compose files.
NO_HOST_ADDRESS = {"com.docker.network.bridge.inhibit_ipv4": "true"}

LABEL_RUN = "io.socklab.run"
LABEL_SCENARIO = "io.socklab.scenario"
LABEL_ROLE = "io.socklab.role"
# host:pid:start-time of the process that made the object; `invoke clean --stale` removes only
# objects whose owner is gone (lab.engines.ownership).
LABEL_OWNER = "io.socklab.owner"
# A run started with --keep: left on purpose, so never "stale" even after its process ended.
LABEL_KEPT = "io.socklab.kept"
# Set by whoever owns a batch of runs (a test session, a grader) so that its leak checks and
# cleanups look at its own runs only, never at a lab someone else runs on the same engine.
LABEL_SESSION = "io.socklab.session"
SESSION_ENV = "SOCKLAB_SESSION"
# On images: a hash of the build context and the base they stand on (lab.engines.images).
LABEL_CONTEXT = "io.socklab.context"
LABEL_BASE = "io.socklab.base"

# ----- images --------------------------------------------------------------------------------
# SOCKLAB_IMAGE_TAG lets two checkouts of socklab (a branch beside main) share one engine without
# rebuilding each other's images back and forth.
IMAGE_TAG = os.environ.get("SOCKLAB_IMAGE_TAG") or "latest"
APPS_IMAGE = f"socklab/apps:{IMAGE_TAG}"
TOOLS_IMAGE = f"socklab/tools:{IMAGE_TAG}"


def current_session() -> str | None:
    """The session label this process puts on its objects, from $SOCKLAB_SESSION (None: unset)."""
    return os.environ.get(SESSION_ENV) or None


@dataclass(frozen=True)
class CommandResult:
    """What running one argv in a host (or helper) gave back; stdout and stderr kept apart.

    >>> CommandResult(0, "ok", "").succeeded
    True
    """

    rc: int
    stdout: str = ""
    stderr: str = ""

    @property
    def succeeded(self) -> bool:
        return self.rc == 0


def sentence(text: str) -> str:
    """A sentence as the checks compare it: without the one line end a line-based program adds.

    The lab's TCP client ends its sentence with a newline (a Java server reads it with
    readLine()), a C client sends what fgets() read, newline included, a Python one what input()
    returned, without: all say the same sentence.

    >>> sentence("hello\\n"), sentence("HELLO\\r\\n"), sentence("hello"), sentence("a\\n\\n")
    ('hello', 'HELLO', 'hello', 'a\\n')
    """
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def sentence_bytes(text: str, count: int) -> int:
    """A byte count of a text without the line end `sentence` drops.

    >>> sentence_bytes("hello\\n", 6), sentence_bytes("hello", 5)
    (5, 5)
    """
    return count - (len(text) - len(sentence(text)))
