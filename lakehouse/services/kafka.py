"""Apache Kafka 4 in single-node KRaft mode, from Maven Central jars (stands in for Redpanda)."""

from __future__ import annotations

import base64
import logging
import subprocess
import time
import uuid

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from lakehouse.errors import ServiceError
from lakehouse.services import artifacts
from lakehouse.services.base import LaunchSpec, NativeService
from lakehouse.services.process import port_open
from lakehouse.state import private_dir, write_private

log = logging.getLogger(__name__)

LOG4J2_CONFIG = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def new_cluster_id() -> str:
    """A random KRaft cluster id: a base64url UUID without padding that does not start with '-'.

    One id in 64 would otherwise start with '-', and the format tool then reads it as an
    option ("argument --cluster-id/-t: expected one argument"); Kafka's own
    ``Uuid.randomUuid`` draws again in that case too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id

class KafkaService(NativeService):
    name = "kafka"
    start_timeout = 90.0

    def _properties(self) -> str:
        s = self.settings
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers={s.host}:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.data_dir}",
            f"num.partitions={s.topic_partitions}",
            "offsets.topic.replication.factor=1",
            # The default 50 partitions take seconds to create on a small machine,
            # during which every consumer group sees NotCoordinator errors.
            "offsets.topic.num.partitions=5",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            # A single listener instance should get its partitions at once, not after 3 s.
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "",
        ])

    def prepare(self) -> LaunchSpec:
        run = self.process.run_dir
        private_dir(run)
        jars = artifacts.maven_jars(self.settings.cache_dir, artifacts.KAFKA_BUNDLE)
        java = artifacts.find_java(17, self.settings.java_home)
        props = run / "server.properties"
        write_private(props, self._properties())
        log4j = run / "log4j2.properties"
        write_private(log4j, LOG4J2_CONFIG)
        classpath = ":".join(str(j) for j in jars)
        jvm = [str(java), "-Xms256m", "-Xmx768m", f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={run}", "-cp", classpath]
        if not (self.data_dir / "meta.properties").is_file():
            self._format_storage(jvm, props)
        return LaunchSpec(argv=[*jvm, "kafka.Kafka", str(props)], env=self.base_env(), cwd=run)

    def _format_storage(self, jvm: list[str], props) -> None:  # noqa: ANN001
        cluster_id = new_cluster_id()
        cmd = [*jvm, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ServiceError(f"formatting Kafka storage failed:\n{proc.stdout}{proc.stderr}")
        log.info("formatted Kafka storage in %s (cluster %s)", self.data_dir, cluster_id)

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=5000)

    def healthy(self) -> bool:
        if not port_open(self.settings.host, self.settings.kafka_port):
            return False
        admin = self._admin()
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    def configure(self) -> None:
        """Create the events and dead-letter topics if missing, and make group coordination ready."""
        s = self.settings
        admin = self._admin()
        try:
            self._wait_for_group_coordinator(admin)
            existing = set(admin.list_topics())
            wanted = [t for t in (s.events_topic, s.dlq_topic) if t not in existing]
            for topic in wanted:
                try:
                    admin.create_topics([NewTopic(topic, num_partitions=s.topic_partitions, replication_factor=1)])
                    log.info("created topic %s", topic)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()

    @staticmethod
    def _wait_for_group_coordinator(admin: KafkaAdminClient, timeout: float = 60.0) -> None:
        # A fresh broker creates __consumer_offsets on the first FindCoordinator
        # request; until it is loaded, consumer groups fail to join. Doing it here
        # means `up` returns a broker whose groups work at once, like a warm one.
        deadline = time.monotonic() + timeout
        while True:
            try:
                probe = admin.describe_groups(["lakehouse-readiness-probe"])["lakehouse-readiness-probe"]
                error = str(probe.get("error") or "")
                if not error or "GroupIdNotFound" in error:  # a coordinator answered
                    return
            except KafkaError as exc:
                error = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(f"Kafka group coordinator not ready after {timeout:.0f}s: {error}")
            time.sleep(0.5)

    def endpoint(self) -> str:
        return f"bootstrap {self.settings.kafka_bootstrap}"

    def ports(self) -> tuple[int, ...]:
        return (self.settings.kafka_port, self.settings.kafka_controller_port)
