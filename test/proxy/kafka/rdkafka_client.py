#!/usr/bin/env python3
"""A librdkafka client (Python confluent-kafka) for the Kafka proxy tests.

Run with the venv python that test/services/rdkafka-install.sh makes (see
test/services/rdkafka.ts, runRdkafka). Subcommands:

  produce <bootstrap> <topic> <count> [--keys N] [--idempotence]
      <count> messages, key "k<i % N>", value "k<i % N>:<i>"; waits for every
      delivery report. Prints {"delivered", "errors", "partitions", ...}.
  consume <bootstrap> <topic> <group> <count> <timeout_s> [--group-protocol classic|consumer]
      subscribes with consumer group <group> (auto.offset.reset=earliest, no
      auto commit), reads until <count> messages or <timeout_s>, commits
      synchronously, reads the committed offsets back, closes (LeaveGroup).
      Prints {"values", "messages", "committed", "errors", ...}.
  share <bootstrap> <topic> <group> <count> <timeout_s>
      KIP-932 share group <group> (its share.auto.offset.reset set to earliest
      first, with IncrementalAlterConfigs): reads until <count> messages or
      <timeout_s>, acknowledges them (implicit mode, commit_sync), closes.
      Prints {"values", "messages", "errors", ...}.
  admin <bootstrap> <topic> <partitions>
      AdminClient: creates <topic> (replication factor 1; an existing topic is
      reported, not an error), lists topics, describes the cluster.
      Prints {"created", "topics", "cluster", "errors", ...}.

Options for every subcommand:
  --debug      librdkafka debug=protocol,feature (the lines go to stderr)
  --versions   also report the api versions the client used: parsed from the
               debug lines ("Sent <Api>Request (v<N>, ...)"), plus the version
               ranges the broker (here: the proxy) advertised in ApiVersions.
               Implies --debug.
  --timeout S  overall deadline for waits (default 30)

The JSON result is the last line of stdout. Exit code 0 when the operation did
what was asked (all delivered / all consumed / topic present), else 1; 2 on a
usage error.
"""

import argparse
import json
import logging
import re
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# "Sent MetadataRequest (v12, 98 bytes @ 0, CorrId 2)"
SENT_RE = re.compile(r"Sent (\w+?)Request \(v(\d+)\b")
RECV_RE = re.compile(r"Received (\w+?)Response \(v(\d+)\b")
# "  ApiKey Metadata (3) Versions 0..13" after "Broker API support:"; keys this
# librdkafka has no name for read "ApiKey Unknown-78? (78) Versions 1..2"
SUPPORT_RE = re.compile(r"ApiKey (\S+?)\?? \((\d+)\) Versions (\d+)\.\.(\d+)")
# first-class flexible versions (KIP-482) of the apis librdkafka uses here
FLEXIBLE_FROM = {
    "ApiVersion": 3,
    "Metadata": 9,
    "Produce": 9,
    "Fetch": 12,
    "FindCoordinator": 3,
    "JoinGroup": 6,
    "SyncGroup": 4,
    "Heartbeat": 4,
    "LeaveGroup": 4,
    "OffsetCommit": 8,
    "OffsetFetch": 6,
    "ListOffsets": 6,
    "CreateTopics": 5,
    "DescribeCluster": 0,
    "InitProducerId": 2,
    "ConsumerGroupHeartbeat": 0,
    "ShareGroupHeartbeat": 0,
    "ShareFetch": 0,
    "ShareAcknowledge": 0,
    "IncrementalAlterConfigsRequest": 1,  # librdkafka's name for it
}


class LogTap(logging.Handler):
    """Receives librdkafka's log lines (served from poll()), echoes them to
    stderr and records the request versions they mention."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.sent = {}  # api -> sorted set of versions sent
        self.received = {}
        self.supported = {}  # broker name -> {api: [min, max]}
        self.lines = 0

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a log line must never break the client
            return
        self.lines += 1
        sys.stderr.write(msg + "\n")
        for m in SENT_RE.finditer(msg):
            self.sent.setdefault(m.group(1), set()).add(int(m.group(2)))
        for m in RECV_RE.finditer(msg):
            self.received.setdefault(m.group(1), set()).add(int(m.group(2)))
        for m in SUPPORT_RE.finditer(msg):
            broker = re.search(r"\]: (\S+?): ", msg)
            b = broker.group(1) if broker else "?"
            self.supported.setdefault(b, {})[m.group(1)] = [int(m.group(3)), int(m.group(4))]

    def report(self):
        used = {api: sorted(v) for api, v in sorted(self.sent.items())}
        flexible = {
            api: [v for v in vs if api in FLEXIBLE_FROM and v >= FLEXIBLE_FROM[api]]
            for api, vs in used.items()
        }
        return {
            "used": used,
            "received": {api: sorted(v) for api, v in sorted(self.received.items())},
            "flexible": {api: vs for api, vs in flexible.items() if vs},
            "supported": self.supported,
            "log_lines": self.lines,
        }


def base_conf(args, tap):
    conf = {
        "bootstrap.servers": args.bootstrap,
        "client.id": "breakwater-rdkafka-test",
        "socket.timeout.ms": 10000,
        # fail fast instead of librdkafka's long retry defaults
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
    }
    if args.debug or args.versions:
        conf["debug"] = "protocol,feature"
        conf["logger"] = tap.logger
    elif tap is not None:
        conf["logger"] = tap.logger
    return conf


def err_str(e):
    if isinstance(e, KafkaException):
        e = e.args[0]
    if isinstance(e, KafkaError):
        return "%s: %s" % (e.name(), e.str())
    return str(e) or repr(e)  # e.g. a futures TimeoutError has no message


def do_produce(args, tap, out):
    conf = base_conf(args, tap)
    conf.update({"acks": "all", "linger.ms": 5, "message.timeout.ms": int(args.timeout * 1000)})
    if args.idempotence:
        conf["enable.idempotence"] = True  # InitProducerId, producer ids and sequence numbers
    p = Producer(conf)
    delivered = 0
    errors = []
    partitions = {}

    def on_delivery(err, msg):
        nonlocal delivered
        if err is not None:
            errors.append("%s (key %s)" % (err_str(err), msg.key().decode() if msg.key() else None))
            return
        delivered += 1
        partitions[str(msg.partition())] = partitions.get(str(msg.partition()), 0) + 1

    for i in range(args.count):
        key = "k%d" % (i % args.keys)
        while True:
            try:
                p.produce(args.topic, key=key, value="%s:%d" % (key, i), on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(args.timeout)
    p.poll(0)  # serve the last log lines
    out.update({"delivered": delivered, "errors": errors, "partitions": partitions, "undelivered": remaining})
    return delivered == args.count and not errors


def do_consume(args, tap, out):
    conf = base_conf(args, tap)
    conf.update(
        {
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            "enable.partition.eof": False,
        }
    )
    if args.group_protocol == "consumer":
        # KIP-848: ConsumerGroupHeartbeat instead of JoinGroup/SyncGroup/Heartbeat;
        # the broker-side assignor, so no session/heartbeat settings here
        conf["group.protocol"] = "consumer"
        del conf["session.timeout.ms"]
        del conf["heartbeat.interval.ms"]
    c = Consumer(conf)
    messages = []
    errors = []
    assigned = []

    def on_assign(consumer, parts):
        assigned.extend("%s[%d]" % (tp.topic, tp.partition) for tp in parts)

    c.subscribe([args.topic], on_assign=on_assign)
    deadline = time.monotonic() + args.timeout_s
    while len(messages) < args.count and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            errors.append(err_str(msg.error()))
            continue
        messages.append(
            {
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key().decode() if msg.key() is not None else None,
                "value": msg.value().decode() if msg.value() is not None else None,
            }
        )
    committed = []
    if messages:
        try:
            c.commit(asynchronous=False)
        except KafkaException as e:
            errors.append("commit: " + err_str(e))
        try:
            parts = c.assignment()
            for tp in c.committed(parts, timeout=10):
                committed.append({"partition": tp.partition, "offset": tp.offset})
        except KafkaException as e:
            errors.append("committed: " + err_str(e))
    c.close()
    committed.sort(key=lambda x: x["partition"])
    out.update(
        {
            "values": [m["value"] for m in messages],
            "messages": messages,
            "committed": committed,
            "assigned": assigned,
            "errors": errors,
        }
    )
    return len(messages) >= args.count


def do_share(args, tap, out):
    """KIP-932 share group: ShareGroupHeartbeat, ShareFetch, ShareAcknowledge."""
    from confluent_kafka import ShareConsumer
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    errors = []
    # a share group starts at the latest offset unless the group config says otherwise
    a = AdminClient(base_conf(args, tap))
    res = ConfigResource(
        ResourceType.GROUP,
        args.group,
        incremental_configs=[
            ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    try:
        for f in a.incremental_alter_configs([res]).values():
            f.result(timeout=args.timeout)
    except Exception as e:  # noqa: BLE001
        errors.append("incremental_alter_configs: " + err_str(e))
    a.poll(0)
    conf = base_conf(args, tap)
    conf.update({"group.id": args.group})
    c = ShareConsumer(conf)
    c.subscribe([args.topic])
    messages = []
    deadline = time.monotonic() + args.timeout_s
    while len(messages) < args.count and time.monotonic() < deadline:
        batch = c.poll(0.5)
        for msg in batch:
            if msg.error():
                errors.append(err_str(msg.error()))
                continue
            messages.append(
                {
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key().decode() if msg.key() is not None else None,
                    "value": msg.value().decode() if msg.value() is not None else None,
                }
            )
    try:
        for tp, r in (c.commit_sync(args.timeout) or {}).items():
            if r is not None:
                errors.append("commit_sync %s[%d]: %s" % (tp.topic, tp.partition, err_str(r)))
    except Exception as e:  # noqa: BLE001
        errors.append("commit_sync: " + err_str(e))
    c.close()
    out.update({"values": [m["value"] for m in messages], "messages": messages, "errors": errors})
    return len(messages) >= args.count


def do_admin(args, tap, out):
    conf = base_conf(args, tap)
    a = AdminClient(conf)
    errors = []
    created = None
    fs = a.create_topics(
        [NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)],
        operation_timeout=args.timeout,
        request_timeout=args.timeout,
    )
    try:
        fs[args.topic].result(timeout=args.timeout)
        created = True
    except KafkaException as e:
        if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            created = False
        else:
            errors.append("create_topics: " + err_str(e))
    except Exception as e:  # noqa: BLE001 - report, do not crash
        errors.append("create_topics: " + repr(e))
    # the topic may take a moment to show up in every broker's metadata
    topics = {}
    brokers = {}
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            md = a.list_topics(timeout=min(10.0, args.timeout))
            topics = {
                name: {"partitions": len(t.partitions), "error": err_str(t.error) if t.error else None}
                for name, t in md.topics.items()
            }
            brokers = {str(b.id): "%s:%d" % (b.host, b.port) for b in md.brokers.values()}
        except KafkaException as e:
            errors.append("list_topics: " + err_str(e))
            break
        if topics.get(args.topic, {}).get("partitions") == args.partitions or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    cluster = None
    try:
        d = a.describe_cluster(request_timeout=args.timeout).result(timeout=args.timeout)
        cluster = {
            "cluster_id": d.cluster_id,
            "controller": "%s:%d" % (d.controller.host, d.controller.port) if d.controller else None,
            "nodes": sorted("%s:%d" % (n.host, n.port) for n in d.nodes),
        }
    except Exception as e:  # noqa: BLE001
        errors.append("describe_cluster: " + err_str(e))
    a.poll(0)  # serve the last log lines
    out.update({"created": created, "topics": topics, "brokers": brokers, "cluster": cluster, "errors": errors})
    return topics.get(args.topic, {}).get("partitions") == args.partitions and not errors


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true")
    common.add_argument("--versions", action="store_true")
    common.add_argument("--timeout", type=float, default=30.0)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce", parents=[common])
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("count", type=int)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--idempotence", action="store_true", help="enable.idempotence=true")
    c = sub.add_parser("consume", parents=[common])
    c.add_argument("bootstrap")
    c.add_argument("topic")
    c.add_argument("group")
    c.add_argument("count", type=int)
    c.add_argument("timeout_s", type=float)
    c.add_argument("--group-protocol", choices=["classic", "consumer"], default="classic", help="group.protocol (consumer: KIP-848)")
    s = sub.add_parser("share", parents=[common])
    s.add_argument("bootstrap")
    s.add_argument("topic")
    s.add_argument("group")
    s.add_argument("count", type=int)
    s.add_argument("timeout_s", type=float)
    a = sub.add_parser("admin", parents=[common])
    a.add_argument("bootstrap")
    a.add_argument("topic")
    a.add_argument("partitions", type=int)
    args = ap.parse_args(argv)

    tap = LogTap()
    logger = logging.getLogger("rdkafka")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(tap)
    tap.logger = logger

    out = {
        "cmd": args.cmd,
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
    }
    t0 = time.monotonic()
    ok = False
    try:
        ok = {"produce": do_produce, "consume": do_consume, "share": do_share, "admin": do_admin}[args.cmd](args, tap, out)
    except Exception as e:  # noqa: BLE001 - the JSON line must always come out
        out.setdefault("errors", []).append("%s: %s" % (type(e).__name__, err_str(e)))
    out["ok"] = bool(ok)
    out["elapsed_s"] = round(time.monotonic() - t0, 3)
    if args.debug or args.versions:
        out["api_versions"] = tap.report()
    sys.stderr.flush()
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
