"""spaCy and medspaCy without the heavy imports our rule-based pipelines never use.

Three imports cost a cold `meddraft assess` time for nothing:
- thinc, under spaCy, imports torch whenever it is installed (to offer torch-backed layers);
- medspaCy imports QuickUMLS (for its `medspacy_quickumls` component, which we never enable),
  and QuickUMLS imports nltk, which imports scipy.stats, scikit-learn and pandas;
- `import spacy` imports its command line (`spacy.cli`: typer, requests, every command) for
  the one name `spacy.info` (0.15 s of a 2.5 s budget).
Inside `lean_spacy()`, `import torch` fails (thinc records that torch is absent; nothing is put in
`sys.modules`, so libraries looking for a loaded torch there find none), `quickumls` is an
empty module, and `spacy.cli` is a placeholder whose `info` imports the real one when called.
On leaving, all are put back: a later `import torch` (the ONNX export, the sentence-transformers
backend), `import quickumls` or `import spacy.cli` loads the real package. When torch is
already loaded, it stays in use.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec

_HIDDEN = "torch"
_STUBBED = "quickumls"
_CLI = ("spacy.cli", "spacy.cli.info")


def _info(*args, **kwargs):
    """`spacy.info`, imported on first use (the placeholder `spacy.cli` is gone by then)."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


class _Empty(Loader):
    def create_module(self, spec):
        return None  # the default: an empty module

    def exec_module(self, module) -> None:
        module.__path__ = []  # a package, so `from quickumls import spacy_component` finds a module


class _Cli(Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        module.__path__ = []
        module.info = _info


class _Lean(MetaPathFinder):
    """Active only in the thread that entered `lean_spacy()`: another thread importing meanwhile
    (a server's request, the ONNX session's thread) imports what it imports, torch included."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name, path=None, target=None):
        if threading.get_ident() != self.thread:
            return None
        root = name.partition(".")[0]
        if root == _HIDDEN and _HIDDEN not in sys.modules:
            raise ModuleNotFoundError("torch is not loaded for spaCy's rule-based pipelines", name=name)
        if root == _STUBBED:
            return ModuleSpec(name, _Empty(), is_package=True)
        if name in _CLI and ("spacy.cli" not in sys.modules or _placeholder(sys.modules["spacy.cli"])):
            return ModuleSpec(name, _Cli(), is_package=True)
        return None


def _placeholder(module) -> bool:
    return isinstance(getattr(getattr(module, "__spec__", None), "loader", None), _Cli)


@contextmanager
def lean_spacy() -> Iterator[None]:
    if _STUBBED in sys.modules:  # the real QuickUMLS is loaded already: nothing to save
        yield
        return
    finder = _Lean()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in list(sys.modules) if n.partition(".")[0] == _STUBBED]:
            del sys.modules[name]  # the stubs go; medspaCy keeps the reference it took
        spacy = sys.modules.get("spacy")
        if spacy is not None and _placeholder(getattr(spacy, "cli", None)):
            del spacy.cli
        for name in [n for n in _CLI if _placeholder(sys.modules.get(n))]:
            del sys.modules[name]  # `import spacy.cli` now loads the real one
