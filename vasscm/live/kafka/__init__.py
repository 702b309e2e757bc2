"""faust and aiokafka as vasscm uses them: :mod:`.hooks` (the internals relied on,
checked at start-up), :mod:`.tansu` (the embedded broker's transport), :mod:`.auth`
(credentials), :mod:`.layout` (the topic layout), :mod:`.clients` (the tools' clients)."""
