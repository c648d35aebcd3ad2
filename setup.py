"""Build hook: the wheel carries documents/ and automation/ as the package's default documents.

The top-level folders stay the only copy in the repository; the build copies them into
releaseflow/_documents/ (releaseflow.sources reads them there when installed from a wheel).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FOLDERS = ("documents", "automation")


class BuildWithDocuments(build_py):
    def run(self):
        super().run()
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "releaseflow" / "_documents"
        for folder in FOLDERS:
            shutil.copytree(here / folder, target / folder, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithDocuments})
