"""djlint: whole-repository static analyzer of DataJoint's make() provenance contract.

It parses every module with Python's own parser (ast) and never imports or executes the code it reads.
"""

__version__ = "0.1.0"
