"""isobench's composition root: the command line (`isobench`, `python -m isobench`) over
runtime, vm, bench and reports. The only package that may import all the others; nothing
imports it."""
