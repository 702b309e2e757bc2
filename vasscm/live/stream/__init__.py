"""The stream: a worker's agents, from the input topics to the core's step and back.

:mod:`.pipeline` binds them to one app: :mod:`.intake` takes and parses a record,
:mod:`.fanout` sends each customs event to its containers' partitions with
:mod:`.marks` of its progress, :mod:`.tracker` holds records in arrival order and
applies them, :mod:`.publisher` turns each step into state and outputs, and
:mod:`.forecasts` and :mod:`.readiness` run beside them.
"""
