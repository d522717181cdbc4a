"""Dependencies of the `distill` meta-package.

From a checkout every sibling package is referenced by its folder under packages/, so
`pip install ".[hifigan]"` installs this repository's code, never a registry's. A release build
(`DISTILL_RELEASE=1`) pins every sibling to the meta-package's own version instead.
"""

import os
from pathlib import Path

from hatchling.metadata.plugin.interface import MetadataHookInterface

BACKENDS = {"bigvgan": "distill-bigvgan", "hifigan": "distill-hifigan"}


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict) -> None:
        version = metadata["version"]
        release = os.environ.get("DISTILL_RELEASE") == "1"

        def requirement(package: str, extra: str = "") -> str:
            name = f"{package}[{extra}]" if extra else package
            if release:
                return f"{name}=={version}"
            return f"{name} @ {(Path(self.root) / 'packages' / package).as_uri()}"

        metadata["dependencies"] = [requirement("distill-core")]
        extras = {extra: [requirement(package)] for extra, package in BACKENDS.items()}
        extras["ui"] = [requirement("distill-core", "ui")]  # the web UI: Gradio, imported only by `distill ui`
        extras["all"] = [*(requirement(package) for package in BACKENDS.values()), *extras["ui"]]
        metadata["optional-dependencies"] = extras
