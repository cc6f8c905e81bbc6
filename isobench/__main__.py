"""`python -m isobench ...`: the same CLI as the `isobench` console script."""

from isobench.cli import entry

entry()
