"""Project Nessie server (runner jar, Java 21+) serving an Iceberg REST catalog on MinIO."""

from __future__ import annotations

import requests

from lakehouse.services import artifacts
from lakehouse.services.base import LaunchSpec, NativeService
from lakehouse.state import private_dir, write_private


class NessieService(NativeService):
    name = "nessie"
    start_timeout = 120.0

    def _application_properties(self) -> str:
        s = self.settings
        return "\n".join([
            f"quarkus.http.host={s.host}",
            f"quarkus.http.port={s.nessie_port}",
            # Quarkus' management port defaults to 9000, MinIO's port.
            f"quarkus.management.host={s.host}",
            f"quarkus.management.port={s.nessie_management_port}",
            "quarkus.otel.sdk.disabled=true",
            "nessie.version.store.type=ROCKSDB",
            f"nessie.version.store.persist.rocks.database-path={self.data_dir / 'rocksdb'}",
            f"nessie.server.default-branch={s.nessie_branch}",
            "nessie.catalog.default-warehouse=warehouse",
            f"nessie.catalog.warehouses.warehouse.location={s.warehouse_uri}",
            f"nessie.catalog.service.s3.default-options.endpoint={s.s3_endpoint}/",
            "nessie.catalog.service.s3.default-options.path-style-access=true",
            f"nessie.catalog.service.s3.default-options.region={s.s3_region}",
            # Nessie's own least-privilege MinIO user (the warehouse only), made by
            # MinIO's configure step before Nessie starts (deploy/init/minio.sh).
            "nessie.catalog.service.s3.default-options.access-key=urn:nessie-secret:quarkus:lakehouse.s3",
            f"lakehouse.s3.name={s.nessie_s3_access_key}",
            f"lakehouse.s3.secret={s.nessie_s3_secret_key}",
            "",
        ])

    def prepare(self) -> LaunchSpec:
        run = self.process.run_dir
        private_dir(run / "config")
        private_dir(self.data_dir)
        jar = artifacts.maven_jars(self.settings.cache_dir, artifacts.NESSIE_BUNDLE)[0]
        java = artifacts.find_java(21, self.settings.java_home)
        # Quarkus reads ./config/application.properties; the file holds the S3
        # secret, so it is private and never on the command line (ps shows that).
        props = run / "config" / "application.properties"
        write_private(props, self._application_properties())
        argv = [str(java), "-Xms256m", "-Xmx1g", f"-Dlakehouse.state={run}", "-jar", str(jar)]
        return LaunchSpec(argv=argv, env=self.base_env(), cwd=run)

    def healthy(self) -> bool:
        url = f"{self.settings.nessie_uri}/iceberg/v1/config?warehouse=warehouse"
        return requests.get(url, timeout=2).status_code == 200

    def endpoint(self) -> str:
        return f"Iceberg REST {self.settings.iceberg_rest_uri}  API {self.settings.nessie_uri}/api/v2"

    def ports(self) -> tuple[int, ...]:
        return (self.settings.nessie_port, self.settings.nessie_management_port)
