"""The command-line tools around a worker: :mod:`.broker` (the embedded broker),
:mod:`.demo`, :mod:`.produce`, :mod:`.simfeed` (``simulate --feed``), :mod:`.archive`."""
