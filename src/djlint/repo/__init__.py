"""The parts the repository model (``djlint.model.Model``) is built from, one concern each.

``records`` (what the model holds), ``resolution`` (what a name means in a module),
``unknown_origins`` (where a name that means nothing known comes from), ``indexing`` (the summaries'
bindings, classes and activations as indexes), ``tables`` (class tiers and table records),
``fkgraph`` (the foreign-key graph) and ``policy_names`` (the ``allow`` policy's names, resolved and
located). ``djlint.model`` reads the files and runs these steps in order.
"""
