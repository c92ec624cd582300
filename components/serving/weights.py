"""The models bucket: model weights in S3 for models with ``weights_s3_prefix`` (KMS-encrypted, versioned, public
access blocked, TLS only), and a read-only role per such model's ServiceAccount through EKS Pod Identity."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from config.serving import Model
from kit.aws import kms_key, pod_identity_role
from kit.naming import safe_name
from kit.shared import Shared


def tls_only_policy(bucket_arn: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def read_policy(bucket_arn: str, key_arn: str, prefix: str) -> dict:
    """Read one prefix of the bucket and decrypt with its key; nothing else."""
    prefix = prefix.strip("/")
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadWeights", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/{prefix}/*"},
        {"Sid": "ListWeights", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}}},
        {"Sid": "DecryptWeights", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
    ]}


class ModelsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]

    def __init__(self, name: str, models: list[Model], shared: Shared):
        super().__init__("agentic:aws:ModelsBucket", name, None, shared.aws_opts())
        child = pulumi.ResourceOptions(parent=self)
        self.key = kms_key(f"{name}-key", f"{shared.prefix}-models", f"Model weights of {shared.prefix}", self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket_prefix=safe_name(shared.prefix, "models-", limit=37),
                                      force_destroy=False, opts=child)
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id,
                                  versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                "kms_master_key_id": self.key.arn},
                    "bucket_key_enabled": True}], opts=child)
        block = aws.s3.BucketPublicAccessBlock(f"{name}-public-access-block", bucket=self.bucket.id,
                                               block_public_acls=True, block_public_policy=True,
                                               ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketPolicy(f"{name}-tls-only", bucket=self.bucket.id,
                            policy=self.bucket.arn.apply(lambda a: json.dumps(tls_only_policy(a))),
                            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))
        namespace = shared.namespaces["inference"]
        for m in models:
            if not m.weights_s3_prefix:
                continue
            pod_identity_role(
                f"{name}-{m.name}", role_name=f"{shared.prefix}-model-{m.name}",
                policy=pulumi.Output.all(self.bucket.arn, self.key.arn).apply(
                    lambda a, m=m: json.dumps(read_policy(a[0], a[1], str(m.weights_s3_prefix)))),
                cluster_name=shared.cluster_name_output, namespace=namespace, service_account=m.name, parent=self,
                depends_on=list(shared.cluster_ready))
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket": self.bucket_name})
