"""Images present or built: base chosen (pulled, or bootstrapped locally), then apps and tools.

Idempotent by content: each image is labelled with a hash of its build context and of the base it
stands on; when the labels match, nothing is built, so a warm `invoke build` or `invoke scenario`
costs a label lookup.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab.engines import base_image
from lab.common import APPS_IMAGE, LABEL_BASE, LABEL_CONTEXT, TOOLS_IMAGE
from lab.engines.base import Engine
from lab.errors import ImageBuildError

log = logging.getLogger(__name__)

IMAGES_DIR = Path(__file__).resolve().parents[2] / "images"
__all__ = ["APPS_IMAGE", "BUILT_IMAGES", "TOOLS_IMAGE", "ImageOutcome", "ensure_images"]
BUILT_IMAGES = {APPS_IMAGE: IMAGES_DIR / "apps", TOOLS_IMAGE: IMAGES_DIR / "tools"}


@dataclass(frozen=True)
class ImageOutcome:
    """What `ensure_images` did for one image, for the build report."""

    image: str
    action: str   # "up to date" | "built" | "pulled" | "bootstrapped" | "present"
    seconds: float


def context_hash(context: Path) -> str:
    """A hash of every file in a build context, so that an edit to a program triggers a build."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def choose_base(engine: Engine, progress: Callable[[str], None],
                host: base_image.HostFacts | None = None,
                bootstrap: Callable[[Engine, str, list[base_image.AptSource], str], None] | None = None,
                ) -> tuple[str, str]:
    """The base image to build on, and how it was obtained.

    Order: SOCKLAB_BASE_IMAGE if set; the official slim Python image if present; a local base
    already made on this host (no network needed); a pull of the official image; and only when
    the pull fails, a local bootstrap — on a host with apt. Elsewhere (macOS, Fedora, Arch) the
    failed pull ends in advice saying exactly what to do (exit 3). `host` and `bootstrap` are
    injectable so the order is unit-tested with the facts of other machines.
    """
    host = host or base_image.HostFacts.of_this_machine()
    bootstrap = bootstrap or bootstrap_base
    forced = os.environ.get("SOCKLAB_BASE_IMAGE")
    if forced:
        if engine.image_labels(forced) is None:
            ok, reason = engine.try_pull(forced)
            if not ok:
                raise ImageBuildError(f"SOCKLAB_BASE_IMAGE={forced} is not present and cannot be pulled: {reason}")
        return forced, "forced"
    if engine.image_labels(base_image.PULLED_BASE) is not None:
        return base_image.PULLED_BASE, "present"
    codename = host.codename
    if codename and engine.image_labels(base_image.local_base_tag(codename)) is not None:
        return base_image.local_base_tag(codename), "present"
    progress(f"pulling {base_image.PULLED_BASE}")
    ok, reason = engine.try_pull(base_image.PULLED_BASE)
    if ok:
        return base_image.PULLED_BASE, "pulled"
    if not host.can_bootstrap or codename is None:
        raise ImageBuildError(base_image.no_base_advice(host, reason))
    _, sources = base_image.host_apt_sources(host.etc_apt, host.os_release_path)
    local = base_image.local_base_tag(codename)
    progress(f"no registry ({reason}); bootstrapping {local} from this host's apt sources")
    bootstrap(engine, codename, sources, local)
    return local, "bootstrapped"


def bootstrap_base(engine: Engine, codename: str, sources: list[base_image.AptSource], tag: str) -> None:
    """mmdebstrap a minimal root file system and import it as `tag`."""
    if shutil.which("mmdebstrap") is None:
        raise ImageBuildError("no registry answers and mmdebstrap is not installed: "
                              "apt-get install mmdebstrap (or run ./bootstrap), then try again")
    if os.geteuid() != 0:
        raise ImageBuildError("bootstrapping the local base needs root (sudo invoke build)")
    with tempfile.TemporaryDirectory(prefix="socklab-base-") as tmp:
        sources_file = Path(tmp) / "host.sources"
        sources_file.write_text("\n".join(s.deb822() for s in sources))
        tarball = Path(tmp) / "rootfs.tar"
        argv = base_image.mmdebstrap_argv(codename, sources_file, tarball)
        log.info("bootstrap: %s", " ".join(argv))
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise ImageBuildError(f"mmdebstrap failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
        engine.import_rootfs(tarball, tag)


def ensure_images(engine: Engine, progress: Callable[[str], None], force: bool = False
                  ) -> list[ImageOutcome]:
    """Make sure apps and tools images exist and match their build contexts."""
    import time

    outcomes: list[ImageOutcome] = []
    wanted = {tag: context_hash(ctx) for tag, ctx in BUILT_IMAGES.items()}
    current = {tag: engine.image_labels(tag) or {} for tag in BUILT_IMAGES}
    if not force and all(current[t].get(LABEL_CONTEXT) == h for t, h in wanted.items()):
        return [ImageOutcome(tag, "up to date", 0.0) for tag in BUILT_IMAGES]
    started = time.monotonic()
    base, how = choose_base(engine, progress)
    outcomes.append(ImageOutcome(base, how, time.monotonic() - started))
    for tag, context in BUILT_IMAGES.items():
        labels = current[tag]
        if not force and labels.get(LABEL_CONTEXT) == wanted[tag] and labels.get(LABEL_BASE) == base:
            outcomes.append(ImageOutcome(tag, "up to date", 0.0))
            continue
        progress(f"building {tag} on {base}")
        started = time.monotonic()
        engine.build(context, tag, {"BASE_IMAGE": base},
                     {LABEL_CONTEXT: wanted[tag], LABEL_BASE: base},
                     on_line=lambda line: log.debug("build: %s", line))
        outcomes.append(ImageOutcome(tag, "built", time.monotonic() - started))
    return outcomes


TOOLCHAIN_CONTEXT = IMAGES_DIR / "toolchain"
_toolchain_lock = threading.Lock()
_toolchain_failed: dict[tuple[str, str], ImageBuildError] = {}   # this process tried once: no retry per job


def ensure_language_image(engine: Engine, tag: str, packages: tuple[str, ...],
                          progress: Callable[[str], None]) -> ImageOutcome:
    """A language's toolchain image (images/toolchain/ with its Debian packages on the apps image).

    Built on first need only — the first student program in that language — so that a class
    written in Python never waits for a compiler; labelled with a hash of its context, of its
    packages and of the apps image it stands on, so that it is rebuilt exactly when one changes.
    The apps image must be ready (``ready``) before. One build at a time: a class graded with
    several jobs asks for it from several threads at once.
    """
    import time

    apps = engine.image_labels(APPS_IMAGE) or {}
    digest = hashlib.sha256(f"{context_hash(TOOLCHAIN_CONTEXT)}/{' '.join(packages)}/"
                            f"{apps.get(LABEL_CONTEXT)}/{apps.get(LABEL_BASE)}".encode()).hexdigest()[:16]
    with _toolchain_lock:
        if (engine.image_labels(tag) or {}).get(LABEL_CONTEXT) == digest:
            return ImageOutcome(tag, "up to date", 0.0)
        if (tag, digest) in _toolchain_failed:
            raise _toolchain_failed[(tag, digest)]
        progress(f"building {tag} ({' '.join(packages)}) on {APPS_IMAGE}: first program in this language")
        started = time.monotonic()
        try:
            engine.build(TOOLCHAIN_CONTEXT, tag, {"APPS_IMAGE": APPS_IMAGE, "PACKAGES": " ".join(packages)},
                         {LABEL_CONTEXT: digest, LABEL_BASE: APPS_IMAGE},
                         on_line=lambda line: log.debug("build: %s", line))
        except ImageBuildError as error:
            _toolchain_failed[(tag, digest)] = error
            raise
        outcome = ImageOutcome(tag, "built", time.monotonic() - started)
        for line in engine.spread_images([tag], progress):
            progress(line)
        return outcome


def ready(engine: Engine, progress: Callable[[str], None], force: bool = False, verbose: bool = False) -> None:
    """Images built (or found up to date) where the engine builds, then put on every node it runs
    hosts on (a swarm's nodes; nothing to do on one engine). Says what it did through `progress`."""
    for outcome in ensure_images(engine, progress, force=force):
        if verbose or outcome.action != "up to date":
            progress(f"{outcome.image}: {outcome.action} ({outcome.seconds:.1f} s)")
    for line in engine.spread_images([APPS_IMAGE, TOOLS_IMAGE], progress):
        if verbose or not line.endswith(" present"):
            progress(line)
