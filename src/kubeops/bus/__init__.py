"""Kafka as kubeops' event bus: publish what a cluster does, consume what others say.

``kubeops respond`` (and ``kubeops events export``) publish the events their
sources see to a Kafka topic as CloudEvents, keyed so one object's events stay in
order, through a bounded on-disk spool that rides out a broker outage; rules take
events from Kafka topics as well as from the cluster, and several responders in
one consumer group share the partitions.  Kafka is the queue: nothing here
builds one of its own.

* :mod:`kubeops.bus.config` -- the ``bus:`` settings (brokers, topics, group, TLS,
  SASL), validated at load, credentials read from files or Secrets, never logged;
* :mod:`kubeops.bus.cloudevents` -- an :class:`~kubeops.respond.event.Event` to
  and from CloudEvents JSON, and the partition key;
* :mod:`kubeops.bus.spool` -- the on-disk, ordered, bounded buffer;
* :mod:`kubeops.bus.publisher` -- the idempotent producer draining the spool;
* :mod:`kubeops.bus.consumer` -- the consumer-group source, committing an offset
  only after its event's actions are recorded.

Only :mod:`kubeops.bus.kafka` imports the Kafka client library.
"""
