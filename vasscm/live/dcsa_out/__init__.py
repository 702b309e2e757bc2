"""DCSA out: :mod:`.feed` turns clearances and forecasts into DCSA events,
:mod:`.deliverer` signs and posts them to one subscriber, :mod:`.subscription_book`
keeps the subscriptions, and :mod:`.webhooks` runs it all in a worker."""
