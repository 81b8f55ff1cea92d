"""The one typed model of an agent platform, by concern: every setting, its description and its default.

Defaults are the secure, highly available choice; a consumer relaxes them explicitly (see
Pulumi.dev.yaml). Keys are camelCase as in a stack file or a Pulumi schema, snake_case is accepted too
(the Python args). The components validate their args against these models (`locate.validated`), so the
defaults and the checks hold for every consumer of the package; a stack file is one such consumer
(program/stack_config.py).

The modules import one way, each only from those before it: errors -> values -> base -> pod ->
workload -> service -> stores -> cluster -> docker -> capacity -> stack -> locate.
"""
