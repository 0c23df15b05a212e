"""S3Storage: assets as objects in an S3-compatible bucket (AWS, MinIO, R2, ... via ``endpoint_url``).

Layout: one object per asset at ``{prefix}assets/{asset_id}``; its content type is the object's
``Content-Type`` and its sha256, pixel size and creation time are user metadata, so ``get`` is one HEAD and
there is no sidecar to keep in step. Large payloads go up in parts (boto3's managed transfer, thresholds from
config). Credentials come from boto3's usual chain (env, profile, instance role). ``presign`` makes a GET URL
valid ``presign_ttl_s`` seconds on every call; nothing presigned is ever stored. boto3 is imported here only,
and every botocore error is translated here: a missing object is ``NotFound``, anything else
``ServiceUnavailable``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from genpulse.core.config import StorageConfig
from genpulse.core.errors import ConfigError, NotFound, ServiceUnavailable
from genpulse.core.schemas import DEFAULT_TENANT, Asset, new_id, now
from genpulse.media.storage.backend import content_url, hash_file, image_size

_ID = re.compile(r"^ast_[0-9a-f]{24}$")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Storage:
    def __init__(self, config: StorageConfig, client: Any | None = None) -> None:
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
            from botocore.config import Config
        except ImportError:
            raise ConfigError("storage.type s3 needs boto3: pip install 'genpulse[s3]'") from None
        if not config.bucket:
            raise ConfigError("storage.bucket is required when storage.type is s3")
        self.config, self.bucket, self.prefix = config, config.bucket, config.prefix
        self._client = client or boto3.session.Session().client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if config.endpoint_url else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=config.multipart_threshold_bytes,
            multipart_chunksize=config.multipart_chunk_bytes,
            max_concurrency=4,
        )

    def key(self, asset_id: str) -> str:
        if not _ID.match(asset_id):
            raise NotFound(f"asset {asset_id} not found")
        return f"{self.prefix}assets/{asset_id}"

    def put(self, data: bytes, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset:
        import io

        return self.put_file(io.BytesIO(data), content_type, tenant_id)

    def put_file(self, fh: BinaryIO, content_type: str, tenant_id: str = DEFAULT_TENANT) -> Asset:
        sha256, size = hash_file(fh)
        width, height = image_size(fh, content_type)
        asset_id, created_at = new_id("ast"), now()
        metadata = {"sha256": sha256, "created-at": repr(created_at), "tenant": tenant_id}
        if width is not None and height is not None:
            metadata |= {"width": str(width), "height": str(height)}
        with self._errors(f"storing {asset_id}"):
            self._client.upload_fileobj(
                fh,
                self.bucket,
                self.key(asset_id),
                ExtraArgs={"ContentType": content_type, "Metadata": metadata},
                Config=self._transfer,
            )
        return Asset(
            id=asset_id,
            content_type=content_type,
            bytes=size,
            sha256=sha256,
            url=content_url(self.config.public_base_url, asset_id),
            width=width,
            height=height,
            created_at=created_at,
            tenant_id=tenant_id,
        )

    def get(self, asset_id: str) -> Asset:
        with self._errors(f"reading {asset_id}", asset_id):
            head = self._client.head_object(Bucket=self.bucket, Key=self.key(asset_id))
        meta = head.get("Metadata", {})
        width, height = meta.get("width"), meta.get("height")
        return Asset(
            id=asset_id,
            content_type=head.get("ContentType") or "application/octet-stream",
            bytes=head["ContentLength"],
            sha256=meta.get("sha256", ""),
            url=content_url(self.config.public_base_url, asset_id),
            width=int(width) if width else None,
            height=int(height) if height else None,
            created_at=float(meta.get("created-at") or head["LastModified"].timestamp()),
            tenant_id=meta.get("tenant") or DEFAULT_TENANT,
        )

    def read(self, asset_id: str) -> bytes:
        with self._errors(f"reading {asset_id}", asset_id):
            return self._client.get_object(Bucket=self.bucket, Key=self.key(asset_id))["Body"].read()

    def presign(self, asset_id: str, ttl_s: int | None = None) -> str:
        """A GET URL for the object, valid ``ttl_s`` (default ``presign_ttl_s``) seconds. Made, never stored."""
        with self._errors(f"presigning {asset_id}", asset_id):
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.key(asset_id)},
                ExpiresIn=ttl_s or self.config.presign_ttl_s,
            )

    def path(self, asset_id: str) -> None:
        """Objects have no local file: ``/content`` redirects to ``presign``."""
        return None

    def delete(self, asset_id: str) -> None:
        with self._errors(f"deleting {asset_id}"):
            self._client.delete_object(Bucket=self.bucket, Key=self.key(asset_id))

    def expired(self, cutoff: float) -> Iterator[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}assets/"
        )
        with self._errors("listing assets"):
            for page in pages:
                for obj in page.get("Contents", []):
                    asset_id = obj["Key"].rsplit("/", 1)[-1]
                    if _ID.match(asset_id) and obj["LastModified"].timestamp() < cutoff:
                        yield asset_id

    def ping(self) -> None:
        with self._errors("checking the bucket"):
            self._client.head_bucket(Bucket=self.bucket)

    @contextlib.contextmanager
    def _errors(self, doing: str, asset_id: str | None = None) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if asset_id is not None and code in _MISSING:
                raise NotFound(f"asset {asset_id} not found") from None
            raise ServiceUnavailable(
                f"s3 bucket {self.bucket}: {doing} failed: {code} {error.get('Message', '')}".strip()
            ) from None
        except BotoCoreError as exc:
            raise ServiceUnavailable(f"s3 bucket {self.bucket}: {doing} failed: {exc}") from None
